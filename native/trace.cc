// torch.jit.trace: record the ATen ops of a JavaScript function once, replay them without JS.
//
// Tracing. `jitTrace` turns libtorch's JIT tracer on for the JS thread (the tracing state is
// thread-local) and calls back into JavaScript synchronously: every op the function runs goes
// through ATen's dispatcher on this thread, where the tracer's dispatch key records it into a
// graph. The graph's inputs are the tensors the caller lists: the function's tensor arguments and,
// for a module, its parameters and buffers. Passing parameters as graph inputs, not constants,
// keeps them the module's own tensors at every replay: autograd reaches them (backward fills their
// `.grad`), in-place optimizer updates are seen, and an async replay marks them in flight like any
// other input. Other tensors the function reads become graph constants holding the same TensorImpl
// (one that requires grad is refused by the tracer: it would silently lose its gradient).
//
// Replay. A trace is run by the JIT interpreter as recorded (`Code` + `InterpreterState`), not
// by a GraphExecutor: no optimization pass, fusion or differentiable-graph rewrite, so a replay
// runs the same kernels in the same order as the JS function and gives the same bits and the same
// autograd graph. `Code` is immutable once built; each run has its own InterpreterState, so runs
// may overlap on several pool threads. The async run goes through workers.h's QueueTensorWork:
// its inputs (parameters included) are in flight until it settles, and the inputs the graph
// writes in place are marked written (see TraceBox::written).
//
// Lifetime. A trace lives in a `TraceBox` behind a Node-API external; the async work holds a
// shared_ptr to its Code, so disposing or collecting the handle meanwhile is safe.
#include "common.h"
#include "workers.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include <memory>
#include <sstream>
#include <utility>

namespace tnapi {
namespace {

// TRACE_FN(name, "torch.jit.trace", { body using `a` }): a guarded binding whose messages use the
// name the user calls.
#define TRACE_FN(fname, display, ...)                                     \
  static Napi::Value fname(const Napi::CallbackInfo& info) {              \
    return ::tnapi::Guard(info.Env(), "", display, [&]() -> Napi::Value { \
      ::tnapi::Args a(info, "", display);                                 \
      __VA_ARGS__                                                         \
    });                                                                   \
  }

struct TraceBox {
  static constexpr uint64_t kMagic = 0x746f726368545243ull;  // "torchTRC"
  uint64_t magic = kMagic;
  std::shared_ptr<torch::jit::Graph> graph;
  std::shared_ptr<torch::jit::Code> code;
  size_t inputs = 0;
  // The inputs the graph may write (an in-place op on an input, a parameter or a buffer, or on a
  // view of one, by alias analysis): an async replay marks them written, so that no other call
  // reads or writes them meanwhile (two concurrent replays would race on them).
  std::vector<size_t> written;
};

std::vector<size_t> WrittenInputs(const std::shared_ptr<torch::jit::Graph>& g) {
  torch::jit::AliasDb db(g);
  std::vector<size_t> out;
  for (size_t k = 0; k < g->inputs().size(); k++) {
    torch::jit::ValueSet v{g->inputs()[k]};
    for (torch::jit::Node* n : g->nodes()) {
      if (db.writesToAlias(n, v)) {
        out.push_back(k);
        break;
      }
    }
  }
  return out;
}

void FinalizeTrace(node_api_basic_env, void* data, void*) {
  auto* box = static_cast<TraceBox*>(data);
  box->magic = 0;
  delete box;
}

TraceBox* Trace(const Args& a, size_t i) {
  if (i < a.Length() && a[i].IsExternal()) {
    auto* p = static_cast<TraceBox*>(a[i].As<Napi::External<void>>().Data());
    if (p != nullptr && p->magic == TraceBox::kMagic) {
      if (!p->code) throw Napi::Error::New(a.Env(), a.Name() + ": this trace is disposed");
      return p;
    }
  }
  throw Napi::TypeError::New(a.Env(), a.Name() + ": expected a trace handle");
}

// The tensors of an array of handles returned by JS (from inside the traced call).
std::vector<at::Tensor> Outputs(Napi::Env env, const Napi::Value& v) {
  if (!v.IsArray())
    throw Napi::TypeError::New(env, "torch.jit.trace: the traced function must return an array of handles");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    bool stale = false;
    TensorBox* box = Unwrap(env, arr.Get(k), &stale);
    if (box == nullptr || !box->t.defined())
      throw Napi::Error::New(env, "torch.jit.trace: output " + std::to_string(k) + " is not a live tensor");
    out.push_back(box->t);
  }
  return out;
}

Napi::Array Handles(Napi::Env env, std::vector<at::Tensor> ts) {
  Napi::Array out = Napi::Array::New(env, ts.size());
  for (uint32_t k = 0; k < ts.size(); k++) out.Set(k, Napi::Value(env, Wrap(env, std::move(ts[k]))));
  return out;
}

std::vector<at::Tensor> Replay(const torch::jit::Code& code, std::vector<at::Tensor> inputs) {
  torch::jit::Stack stack(std::make_move_iterator(inputs.begin()), std::make_move_iterator(inputs.end()));
  torch::jit::InterpreterState(code).run(stack);
  std::vector<at::Tensor> out;
  out.reserve(stack.size());
  for (c10::IValue& v : stack) out.push_back(v.isTensor() ? v.toTensor() : at::Tensor());
  return out;
}

// Turns the tracer off again if the traced call ended by an exception past libtorch's own cleanup.
struct TracingOff {
  ~TracingOff() {
    if (torch::jit::tracer::isTracing()) torch::jit::tracer::abandon();
  }
};

// jitTrace(inputs: H[], fn: () => H[]) -> trace handle. `fn` runs once, under the tracer, and
// returns the handles of its result tensors (which JS keeps: they are this run's real results).
TRACE_FN(jitTrace, "torch.jit.trace", {
  std::vector<at::Tensor> inputs = a.TensorList(0);
  if (!a[1].IsFunction()) a.TypeError(1, "a function");
  if (torch::jit::tracer::isTracing())
    throw Napi::Error::New(a.Env(), "torch.jit.trace: cannot trace while another trace is recording");
  Napi::Function fn = a[1].As<Napi::Function>();
  Napi::Env env = a.Env();
  torch::jit::Stack stack(inputs.begin(), inputs.end());
  TracingOff off;
  auto traced = torch::jit::tracer::trace(
      std::move(stack),
      [&](torch::jit::Stack) -> torch::jit::Stack {
        Napi::Value r = fn.Call({});  // a JS exception propagates as Napi::Error; trace() abandons
        std::vector<at::Tensor> results = Outputs(env, r);
        return torch::jit::Stack(results.begin(), results.end());
      },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/false,
      /*force_outplace=*/false);
  auto box = std::make_unique<TraceBox>();
  box->graph = traced.first->graph;
  box->inputs = inputs.size();
  box->written = WrittenInputs(box->graph);
  box->code = std::make_shared<torch::jit::Code>(box->graph, "forward");
  napi_value h;
  if (napi_create_external(env, box.get(), FinalizeTrace, nullptr, &h) != napi_ok)
    throw Napi::Error::New(env, "torch.jit.trace: could not create a trace handle");
  box.release();
  return Napi::Value(env, h);
})

// jitTraceForget(h): while tracing, makes the tensor behind `h` a constant of the graph from now
// on (its value came from JS, e.g. torch.tensor([...]), which the tracer cannot see: it recorded
// only the empty tensor the values were copied into).
TRACE_FN(jitTraceForget, "torch.jit.trace", {
  at::Tensor t = a.Tensor(0);
  if (torch::jit::tracer::isTracing()) torch::jit::tracer::getTracingState()->delValue(t);
  return a.Env().Undefined();
})

TRACE_FN(jitTraceIsTracing, "torch.jit.trace", { return Napi::Boolean::New(a.Env(), torch::jit::tracer::isTracing()); })

// jitTraceRun(trace, inputs: H[]) -> H[] (under the caller's grad mode)
TRACE_FN(jitTraceRun, "TracedModule.forward", {
  TraceBox* box = Trace(a, 0);
  std::vector<at::Tensor> inputs = a.TensorList(1);
  if (inputs.size() != box->inputs)
    a.RangeError("expected " + std::to_string(box->inputs) + " input tensors, got " + std::to_string(inputs.size()));
  std::shared_ptr<torch::jit::Code> code = box->code;
  return Handles(a.Env(), Replay(*code, std::move(inputs)));
})

// jitTraceRunAsync(trace, inputs: H[]) -> Promise<H[]>: the replay on the pool (workers.h).
TRACE_FN(jitTraceRunAsync, "TracedModule.forwardAsync", {
  TraceBox* box = Trace(a, 0);
  BoxPins pins;
  a.Track(&pins);
  std::vector<at::Tensor> inputs = a.TensorList(1);
  a.Track(nullptr);
  if (inputs.size() != box->inputs)
    a.RangeError("expected " + std::to_string(box->inputs) + " input tensors, got " + std::to_string(inputs.size()));
  std::shared_ptr<torch::jit::Code> code = box->code;
  std::vector<TensorBox*> writes;
  for (size_t k : box->written) writes.push_back(pins.boxes()[k]);
  return QueueTensorWork(
      a.Env(), a.Name(), pins.boxes(), [code, inputs]() { return Replay(*code, inputs); }, std::move(writes));
})

// jitTraceGraph(trace) -> the recorded graph as TorchScript IR text
TRACE_FN(jitTraceGraph, "TracedModule.graph", {
  std::ostringstream s;
  s << *Trace(a, 0)->graph;
  return Napi::String::New(a.Env(), s.str());
})

// jitTraceSave(trace, inputs, names: string[], state: H[], buffers: boolean[]) -> the bytes of a
// TorchScript archive whose `forward(self, <inputs>)` is the trace: the last `state.length` graph
// inputs become the module's parameters and buffers (`names`), read with GetAttr; several results
// become one tuple (TorchScript methods return one value).
TRACE_FN(jitTraceSave, "TracedModule.toScriptModule", {
  TraceBox* box = Trace(a, 0);
  size_t nUser = static_cast<size_t>(a.Int(1));
  if (!a[2].IsArray() || !a[4].IsArray()) a.TypeError(2, "arrays of names and flags");
  Napi::Array names = a[2].As<Napi::Array>(), buffers = a[4].As<Napi::Array>();
  std::vector<at::Tensor> state = a.TensorList(3);
  if (nUser + state.size() != box->inputs || names.Length() != state.size() || buffers.Length() != state.size())
    a.RangeError("the state does not match the trace's inputs");
  std::shared_ptr<torch::jit::Graph> g = box->graph->copy();
  torch::jit::Module m(c10::QualifiedName("__torch__.TracedModule"));
  torch::jit::Value* self = g->insertInput(0, "self");
  self->setType(m.type());
  {
    torch::jit::WithInsertPoint at(g->block()->nodes().front());
    for (size_t k = 0; k < state.size(); k++) {
      std::string name = names.Get(static_cast<uint32_t>(k)).ToString().Utf8Value();
      bool buffer = buffers.Get(static_cast<uint32_t>(k)).ToBoolean().Value();
      m.register_parameter(name, state[k], buffer);
      g->inputs()[1 + nUser + k]->replaceAllUsesWith(g->insertGetAttr(self, name));
    }
  }
  for (size_t k = state.size(); k > 0; k--) g->eraseInput(1 + nUser + k - 1);
  if (g->outputs().size() != 1) {
    std::vector<torch::jit::Value*> outs(g->outputs().begin(), g->outputs().end());
    torch::jit::Value* tuple = g->insertNode(g->createTuple(outs))->output();
    while (!g->outputs().empty()) g->eraseOutput(0);
    g->registerOutput(tuple);
  }
  auto* fn = m._ivalue()->compilation_unit()->create_function(c10::QualifiedName(*m.type()->name(), "forward"), g);
  m.type()->addMethod(fn);
  std::ostringstream out;
  m.save(out);
  std::string bytes = out.str();
  return Napi::Buffer<uint8_t>::Copy(a.Env(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
})

TRACE_FN(jitTraceDispose, "TracedModule.dispose", {
  if (!a[0].IsExternal()) a.TypeError(0, "a trace handle");
  auto* box = static_cast<TraceBox*>(a[0].As<Napi::External<void>>().Data());
  if (box == nullptr || box->magic != TraceBox::kMagic) a.TypeError(0, "a trace handle");
  box->code.reset();
  box->graph.reset();
  return a.Env().Undefined();
})

const Export kExports[] = {
    {"jitTrace", jitTrace, 2},
    {"jitTraceForget", jitTraceForget, 1},
    {"jitTraceIsTracing", jitTraceIsTracing, 0},
    {"jitTraceRun", jitTraceRun, 2},
    {"jitTraceRunAsync", jitTraceRunAsync, 2},
    {"jitTraceGraph", jitTraceGraph, 1},
    {"jitTraceSave", jitTraceSave, 5},
    {"jitTraceDispose", jitTraceDispose, 1},
};

}  // namespace

void RegisterTrace(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
