// Losses: one ATen call each. Reduction codes are ATen's (0 none, 1 mean, 2 sum); argument
// checks live in lib/nn/functional_loss.ts.
#include "args.h"
#include "handle.h"

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "F.";

TNAPI_TENSOR_FN(mseLoss, at::mse_loss(a.Tensor(0), a.Tensor(1), a.Int(2)))
TNAPI_TENSOR_FN(l1Loss, at::l1_loss(a.Tensor(0), a.Tensor(1), a.Int(2)))
TNAPI_TENSOR_FN(smoothL1Loss, at::smooth_l1_loss(a.Tensor(0), a.Tensor(1), a.Int(2), a.Number(3)))
TNAPI_TENSOR_FN(huberLoss, at::huber_loss(a.Tensor(0), a.Tensor(1), a.Int(2), a.Number(3)))
// crossEntropy(input, target, weight?, reduction, ignoreIndex, labelSmoothing)
TNAPI_TENSOR_FN(crossEntropy,
                at::cross_entropy_loss(a.Tensor(0), a.Tensor(1), a.OptTensor(2), a.Int(3), a.Int(4), a.Number(5)))
// nllLoss(input, target, weight?, reduction, ignoreIndex)
TNAPI_TENSOR_FN(nllLoss, at::nll_loss_nd(a.Tensor(0), a.Tensor(1), a.OptTensor(2), a.Int(3), a.Int(4)))
// bce(input, target, weight?, reduction)
TNAPI_TENSOR_FN(binaryCrossEntropy, at::binary_cross_entropy(a.Tensor(0), a.Tensor(1), a.OptTensor(2), a.Int(3)))
// bceWithLogits(input, target, weight?, posWeight?, reduction)
TNAPI_TENSOR_FN(binaryCrossEntropyWithLogits,
                at::binary_cross_entropy_with_logits(a.Tensor(0), a.Tensor(1), a.OptTensor(2), a.OptTensor(3),
                                                     a.Int(4)))
// klDiv(input, target, reduction, logTarget)
TNAPI_TENSOR_FN(klDiv, at::kl_div(a.Tensor(0), a.Tensor(1), a.Int(2), a.Bool(3)))

const Export kExports[] = {
    {"mseLoss", mseLoss, 3},
    {"l1Loss", l1Loss, 3},
    {"smoothL1Loss", smoothL1Loss, 4},
    {"huberLoss", huberLoss, 4},
    {"crossEntropy", crossEntropy, 6},
    {"nllLoss", nllLoss, 5},
    {"binaryCrossEntropy", binaryCrossEntropy, 4},
    {"binaryCrossEntropyWithLogits", binaryCrossEntropyWithLogits, 5},
    {"klDiv", klDiv, 4},
};

}  // namespace

void RegisterLoss(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
