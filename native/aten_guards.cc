// The checks around a schema-driven call from JS (see aten_guards.h). Each class of crash that
// red-teaming the ~2000 registered operators found (SIGSEGV, SIGFPE, aborts, endless loops) is closed here by a
// rule over the schema or the values, not per call site:
//
//  1. Fixed-size lists (`int[2] padding`, `int[3] kernel_size`, `bool[3] output_mask`): kernels
//     read elements 0..N-1 without checking the length (reflection_pad1d(x, []),
//     slow_conv3d_forward(..., [-1], ...), to_sparse_bsc(x, [])). A list must have N elements; one
//     element is repeated N times (what the public kernels do with it, and what Python does with a
//     single int); an empty list only where the schema's default is the empty list (`stride=[]`).
//  2. Integer arguments that kernels divide by (`groups`, `upscale_factor`, `downscale_factor`,
//     `num_head(s)`): native_channel_shuffle(x, 0) and _transform_bias_rescale_qkv(x, b, 0) raise
//     SIGFPE. They must be positive.
//  3. Results that are not ordinary tensors, or views outside their storage: _reshape_alias(x,
//     [1 << 28], [4]) and _efficientzerotensor([2]) hand out tensors whose data lies outside their
//     storage, or that have none, and reading them segfaults; vmap / functionalization wrappers
//     (_add_batch_dim, _to_functional_tensor) are only meaningful inside those transforms. Every
//     tensor result is checked: its elements must lie inside its storage, and wrapper tensors are
//     refused.
//  4. Internal helpers that trust their callers: operators that only other kernels call, after
//     checking what these do not (dims, list lengths, index values). Their kernels read or write
//     out of bounds for arguments the public operator would refuse. They are refused, each with the
//     public operator to use (kRefused below); the table names every one found.
//  5. int64's minimum as an `int` argument: it has no negation, and kernels that negate one loop
//     forever (linalg_matrix_power(x, -2^63)) or wrap dims with it. Refused, except for random_
//     (its `from` spans int64).
//  6. Polynomial degrees (special_*_polynomial_*(x, n)): the kernels run the recurrence n times
//     per element, so n = 2^62 never ends. |n| above 2^20 is refused.
//  7. Batch norm's kernels (native_batch_norm, its backward, batch_norm_update_stats, ...) divide by
//     the element count per channel: an empty input raises SIGFPE. Only aten::batch_norm (the
//     public one) handles it; the others need an input with elements.
//  8. Kernels that read element 0 of their input: _local_scalar_dense (what .item() calls) of an
//     empty tensor segfaults; it needs exactly one element.
//  9. Bin counts (`bins` of histc, histogram, histogramdd): the histogram has the product of the
//     bins per dimension as its size, and histogramdd(x, 2^31) on 3-D points asked for 2^93
//     elements and ran until killed. The product must be at most 2^31 (and every count positive).
// 10. Scale factors that kernels square (`upscale_factor`, `downscale_factor` of pixel_shuffle and
//     pixel_unshuffle): pixel_shuffle(x, 2^40) checks `channels % (f * f)`, and f * f wraps to 0 in
//     int64 (SIGFPE). f * f must fit in int64: f is at most 3037000499.
// 11. Tensor lists that kernels read element 0 of without checking: align_tensors([]) dereferences
//     the longest of no tensors (SIGSEGV). Probing every operator whose first argument is a tensor
//     list with an empty list (the others defaulted) found only this one besides aten::_stack
//     (refused, class 4); it needs at least one tensor.
#include "aten_guards.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tnapi {

// What CallChecked checks for one overload, worked out once from its schema.
struct GuardPlan {
  const char* refused = nullptr;
  std::vector<size_t> fixedLists;    // class 1
  std::vector<size_t> divisors;      // class 2
  std::vector<size_t> ints;          // class 5
  size_t degree = SIZE_MAX;          // class 6: the index of `n`
  size_t batchNormInput = SIZE_MAX;  // class 7: the index of `input`
  bool firstElement = false;         // class 8
  size_t bins = SIZE_MAX;            // class 9: the index of `bins` (int or int[])
  std::vector<size_t> squared;       // class 10
  size_t nonEmptyList = SIZE_MAX;    // class 11: the index of the list
};

namespace {

struct Refused {
  // "aten::_stack" (every overload), "aten::align_to.ellipsis_idx" (one), "quantized::embedding_bag_*" (a prefix)
  const char* name;
  const char* why;
};

// Class 4. Each was found to crash the process from JS with arguments its public operator refuses.
const Refused kRefused[] = {
    {"aten::_add_batch_dim", "a vmap internal (its batch level indexes state only vmap sets up)"},
    {"aten::_remove_batch_dim", "a vmap internal (its level and dims are not checked)"},
    {"aten::_compute_linear_combination", "an internal of matrix_exp (it does not check its coefficients' shape)"},
    {"aten::_symeig_helper", "the internal of symeig (it does not check for a matrix); use torch.linalg.eigh"},
    {"aten::_stack", "the internal of stack (it does not check for an empty list); use torch.stack"},
    {"aten::_convert_indices_from_csr_to_coo", "a sparse internal (it trusts its row pointers to be in range)"},
    {"aten::_convert_indices_from_coo_to_csr", "a sparse internal (it trusts its indices to be in range)"},
    {"aten::_mkldnn_transpose", "an mkldnn internal (its dims are not checked)"},
    {"aten::_mkldnn_transpose_", "an mkldnn internal (its dims are not checked)"},
    {"aten::align_to.ellipsis_idx", "the internal of align_to with an ellipsis (the index is not checked)"},
    {"aten::matrix_exp_backward", "an autograd internal (it does not check for matrices); use autograd"},
    {"aten::quantized_lstm_cell", "deprecated, and it reads hx[0] and hx[1] without checking the list"},
    {"aten::_histogramdd_bin_edges", "an internal of histogramdd (bins must match the input); use torch.histogramdd"},
    {"aten::_histogramdd_from_bin_cts",
     "an internal of histogramdd (bins must match the input); use torch.histogramdd"},
    {"aten::_histogramdd_from_bin_tensors", "an internal of histogramdd; use torch.histogramdd"},
    {"aten::_fft_c2r", "an internal of the fft functions (its dims are not checked); use torch.fft"},
    {"aten::_fft_r2c", "an internal of the fft functions (its dims are not checked); use torch.fft"},
    {"aten::_fft_c2c", "an internal of the fft functions (its dims are not checked); use torch.fft"},
    {"aten::choose_qparams_optimized", "a quantization internal (its numel and n_bins are not checked)"},
    {"aten::_batch_norm_impl_index_backward", "the internal of batch_norm's backward; use autograd"},
    {"aten::embedding_dense_backward", "the backward of embedding (its indices are not checked); use autograd"},
    {"aten::unfold_backward", "the backward of Tensor.unfold (its dim is not checked); use autograd"},
    {"aten::_new_zeros_with_same_feature_meta", "a forward-AD internal (its batch dims are not checked)"},
    {"aten::_sobol_engine_initialize_state_", "an internal of SobolEngine (its dimension is not checked)"},
    {"aten::_sobol_engine_draw", "an internal of SobolEngine (its state is not checked)"},
    {"aten::_sobol_engine_ff_", "an internal of SobolEngine (its state is not checked)"},
    {"aten::_sobol_engine_scramble_", "an internal of SobolEngine (its state is not checked)"},
    {"aten::_thnn_*", "an internal of the RNN cells' autograd (it does not check its gates' shapes); use autograd"},
    {"quantized::embedding_bag_*", "a packed-weight kernel of quantized embedding bags (it trusts its input's shape)"},
};

// Class 2: integer arguments kernels divide by.
bool IsDivisorName(const std::string& n) {
  return n == "groups" || n == "upscale_factor" || n == "downscale_factor" || n == "num_head" || n == "num_heads";
}

// What the checks need of one operator, worked out once.
using Plan = GuardPlan;

Plan MakePlan(const c10::FunctionSchema& s) {
  Plan p;
  const std::string& name = s.name();
  std::string full = s.overload_name().empty() ? name : name + "." + s.overload_name();
  for (const Refused& r : kRefused) {
    size_t n = std::strlen(r.name);
    bool prefix = n > 0 && r.name[n - 1] == '*';
    if (prefix ? name.compare(0, n - 1, r.name, n - 1) == 0 : (name == r.name || full == r.name)) p.refused = r.why;
  }
  p.firstElement = name == "aten::_local_scalar_dense";
  bool polynomial = name.find("_polynomial_") != std::string::npos;
  bool batchNorm = name.find("batch_norm") != std::string::npos && name != "aten::batch_norm";
  const auto& args = s.arguments();
  for (size_t k = 0; k < args.size(); k++) {
    const c10::Argument& a = args[k];
    if (a.N().has_value() && *a.N() >= 2) p.fixedLists.push_back(k);
    c10::TypePtr t = a.type();
    if (t->kind() == c10::TypeKind::OptionalType) t = t->expectRef<c10::OptionalType>().getElementType();
    if (t->kind() == c10::TypeKind::IntType && IsDivisorName(a.name())) p.divisors.push_back(k);
    if (t->kind() == c10::TypeKind::IntType && (a.name() == "upscale_factor" || a.name() == "downscale_factor"))
      p.squared.push_back(k);
    if (name == "aten::align_tensors" && a.name() == "tensors") p.nonEmptyList = k;
    if (polynomial && a.name() == "n") p.degree = k;
    if (batchNorm && a.name() == "input") p.batchNormInput = k;
    if (a.name() == "bins" && (t->kind() == c10::TypeKind::IntType || t->kind() == c10::TypeKind::ListType)) p.bins = k;
    if (t->kind() == c10::TypeKind::IntType && name.find("random") == std::string::npos) p.ints.push_back(k);
  }
  return p;
}

const Plan& PlanOf(const c10::OperatorHandle& op) {
  static std::mutex mu;
  static std::unordered_map<const c10::FunctionSchema*, Plan> plans;
  std::lock_guard<std::mutex> lock(mu);
  const c10::FunctionSchema* key = &op.schema();
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, MakePlan(*key)).first;
  return it->second;
}

void CheckFixedList(const c10::Argument& a, c10::IValue& v) {
  int64_t n = *a.N();
  if (v.isIntList()) {
    std::vector<int64_t> l = v.toIntVector();
    auto len = static_cast<int64_t>(l.size());
    if (len == n) return;
    if (len == 1) {
      v = std::vector<int64_t>(n, l[0]);
      return;
    }
    bool emptyDefault =
        a.default_value().has_value() && a.default_value()->isIntList() && a.default_value()->toIntList().empty();
    if (len == 0 && emptyDefault) return;
    TORCH_CHECK_INDEX(false, "argument '", a.name(), "' must be one integer or a list of ", n, " integers",
                      emptyDefault ? " (or an empty list for the default)" : "", ", got a list of ", len);
  } else if (v.isBoolList()) {
    auto len = static_cast<int64_t>(v.toBoolList().size());
    TORCH_CHECK_INDEX(len == n, "argument '", a.name(), "' must be a list of ", n, " booleans, got a list of ", len);
  } else if (v.isDoubleList()) {
    auto len = static_cast<int64_t>(v.toDoubleList().size());
    TORCH_CHECK_INDEX(len == n, "argument '", a.name(), "' must be a list of ", n, " numbers, got a list of ", len);
  }
}

// Class 3: a tensor JS may hold and read.
void CheckResult(const at::Tensor& t) {
  if (!t.defined()) return;
  c10::DispatchKeySet ks = t.key_set();
  TORCH_CHECK(!ks.has(c10::DispatchKey::Batched) && !ks.has(c10::DispatchKey::FuncTorchBatched) &&
                  !ks.has(c10::DispatchKey::Functionalize) && !ks.has(c10::DispatchKey::Python),
              "the result is a vmap or functionalization wrapper tensor, which only exists inside those transforms");
  TORCH_CHECK(!ks.has(c10::DispatchKey::ZeroTensor), "the result is an efficient zero tensor, which has no storage");
  if (t.layout() != at::kStrided || t.is_meta()) return;
  TORCH_CHECK(t.has_storage() || t.numel() == 0, "the result has no storage to read its elements from");
  if (!t.has_storage()) return;
  __int128 lo = t.storage_offset();
  __int128 hi = lo;
  for (int64_t d = 0; d < t.dim(); d++) {
    int64_t size = t.size(d);
    if (size == 0) return;  // no elements: nothing is read
    __int128 span = static_cast<__int128>(size - 1) * t.stride(d);
    if (span < 0)
      lo += span;
    else
      hi += span;
  }
  __int128 bytes = (hi + 1) * static_cast<__int128>(t.element_size());
  TORCH_CHECK(lo >= 0 && bytes <= static_cast<__int128>(t.storage().nbytes()),
              "the result's elements lie outside its storage (sizes ", t.sizes(), ", strides ", t.strides(),
              ", storage offset ", t.storage_offset(), ", storage of ", t.storage().nbytes(),
              " bytes); reading it would crash");
}

void CheckResults(const std::vector<c10::IValue>& stack) {
  for (const c10::IValue& v : stack) {
    if (v.isTensor())
      CheckResult(v.toTensor());
    else if (v.isTensorList())
      for (const at::Tensor& t : v.toTensorVector()) CheckResult(t);
    else if (v.isList())
      for (const c10::IValue& e : v.toListRef())
        if (e.isTensor()) CheckResult(e.toTensor());
  }
}

}  // namespace

const GuardPlan* GuardPlanOf(const c10::OperatorHandle& op) { return &PlanOf(op); }

void CallChecked(const c10::OperatorHandle& op, const GuardPlan* plan, std::vector<c10::IValue>* stack) {
  const Plan& p = *plan;
  TORCH_CHECK(p.refused == nullptr, "refused from JS: ", p.refused);
  const auto& args = op.schema().arguments();
  std::vector<c10::IValue>& s = *stack;
  for (size_t k : p.fixedLists)
    if (k < s.size()) CheckFixedList(args[k], s[k]);
  for (size_t k : p.divisors)
    if (k < s.size() && s[k].isInt())
      TORCH_CHECK_INDEX(s[k].toInt() > 0, "argument '", args[k].name(), "' must be positive, got ", s[k].toInt());
  for (size_t k : p.squared)
    if (k < s.size() && s[k].isInt())
      TORCH_CHECK_INDEX(s[k].toInt() <= 3037000499, "argument '", args[k].name(),
                        "' must be at most 3037000499 (its square must fit in int64), got ", s[k].toInt());
  if (p.nonEmptyList < s.size() && s[p.nonEmptyList].isTensorList())
    TORCH_CHECK_INDEX(!s[p.nonEmptyList].toTensorList().empty(), "argument '", args[p.nonEmptyList].name(),
                      "' must hold at least one tensor");
  for (size_t k : p.ints)
    if (k < s.size() && s[k].isInt())
      TORCH_CHECK_INDEX(s[k].toInt() != std::numeric_limits<int64_t>::min(), "argument '", args[k].name(),
                        "' may not be int64's minimum (-2^63), which has no negation");
  if (p.degree < s.size()) {
    constexpr double kMaxDegree = 1 << 20;
    const c10::IValue& n = s[p.degree];
    double most = 0;
    if (n.isScalar())
      most = std::fabs(n.toScalar().toDouble());
    else if (n.isTensor() && n.toTensor().numel() > 0 && n.toTensor().layout() == at::kStrided &&
             !n.toTensor().is_meta() && !n.toTensor().is_complex() && !n.toTensor().is_quantized())
      most = n.toTensor().to(at::kDouble).abs().max().item<double>();  // (bool has no abs)
    TORCH_CHECK_INDEX(most <= kMaxDegree, "argument 'n' (the degree) must be at most 2^20 in magnitude, got ", most);
  }
  if (p.batchNormInput < s.size() && s[p.batchNormInput].isTensor())
    TORCH_CHECK_INDEX(s[p.batchNormInput].toTensor().numel() > 0,
                      "batch norm of an empty input (use torch.batch_norm, which handles it)");
  if (p.bins < s.size() && (s[p.bins].isInt() || s[p.bins].isIntList())) {
    constexpr int64_t kMaxBins = int64_t{1} << 31;
    // histogramdd repeats a single count for every dimension of its points (their last dim)
    std::vector<int64_t> counts = s[p.bins].isInt() ? std::vector<int64_t>{s[p.bins].toInt()} : s[p.bins].toIntVector();
    int64_t dims = 1;
    if (s[p.bins].isInt() && op.schema().name() == "aten::histogramdd" && !s.empty() && s[0].isTensor() &&
        s[0].toTensor().dim() >= 1)
      dims = s[0].toTensor().size(-1);
    __int128 total = 1;
    for (int64_t d = 0; d < dims; d++) {
      for (int64_t c : counts) {
        TORCH_CHECK_INDEX(c > 0, "argument 'bins' must be positive, got ", c);
        total *= c;
        TORCH_CHECK_INDEX(total <= kMaxBins, "argument 'bins' asks for more than 2^31 histogram cells");
      }
    }
  }
  if (p.firstElement && !s.empty() && s[0].isTensor())
    TORCH_CHECK_INDEX(s[0].toTensor().numel() == 1, "expected a tensor of one element, got ", s[0].toTensor().numel(),
                      " elements");
  try {
    op.callBoxed(stack);
  } catch (const c10::NotImplementedError& e) {
    // "Could not run 'aten::x' with arguments from the 'CPU' backend": the first sentence and the
    // backends it runs on, without the boilerplate and the kernel registry (thousands of characters)
    std::string m = e.what_without_backtrace();
    m = m.substr(0, m.find("\n\n"));
    size_t a = m.find(" This could be because");
    size_t b = m.find("resolutions. ");
    if (a != std::string::npos && b != std::string::npos && b > a) m.erase(a, b + 12 - a);
    TORCH_CHECK_NOT_IMPLEMENTED(false, m);
  }
  CheckResults(*stack);
}

}  // namespace tnapi
