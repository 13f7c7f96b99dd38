// What keeps a schema-driven call from JS (native/aten.cc) from crashing the process.
//
// libtorch's public operators check their arguments; many of the ~2000 operators the dispatcher
// registers do not, because only other kernels were meant to call them (with valid arguments).
// From JS any argument can arrive, so the boxed call goes through CallChecked, which closes each
// class of crash found so far, before and after the kernel runs (see aten_guards.cc).
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>

#include <vector>

namespace tnapi {

// `op.callBoxed(stack)` with the checks: refused calls throw c10::Error (a TorchError in JS) or
// c10::IndexError (a RangeError) before the kernel runs; results that JS could not use safely
// throw after it (the results are dropped).
// `plan` is GuardPlanOf(op), looked up once per overload (native/aten.cc keeps it with the op).
struct GuardPlan;
const GuardPlan* GuardPlanOf(const c10::OperatorHandle& op);
void CallChecked(const c10::OperatorHandle& op, const GuardPlan* plan, std::vector<c10::IValue>* stack);

}  // namespace tnapi
