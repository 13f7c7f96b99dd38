// A first look at torch-napi: tensors, ops, autograd, memory. Run with `npm start`.
// (The flagship encoder–decoder example replaces this once the nn layers land.)

const torch = require('..');

torch.manualSeed(0);
console.log(
  `torch-napi ${torch.version} on libtorch ${torch.libtorchVersion} (${torch.config().blas} BLAS, ${torch.getNumThreads()} threads)\n`,
);

// Tensors print like PyTorch's.
const x = torch.tensor([
  [1, 2, 3],
  [4, 5, 6],
]);
console.log('x =', x.toString());
console.log('x.shape =', x.shape, ' x.dtype =', x.dtype);
console.log('x.sum(1) =', x.sum(1).toString());
console.log('x.matmul(x.t()) =', x.matmul(x.t()).toString());

// Autograd: libtorch's own. Fit y = 3x + 2 with plain gradient descent.
const xs = torch.linspace(-1, 1, 64).unsqueeze(1);
const ys = xs.mul(3).add(2).add(torch.randn(64, 1).mul(0.05));
const w = torch.zeros([1, 1], { requiresGrad: true });
const b = torch.zeros([1], { requiresGrad: true });
for (let step = 0; step < 200; step++) {
  torch.tidy(() => {
    // frees every temporary tensor of this step
    const loss = xs.matmul(w).add(b).sub(ys).pow(2).mean();
    loss.backward();
    torch.noGrad(() => {
      w.sub_(w.grad.mul(0.5));
      b.sub_(b.grad.mul(0.5));
    });
    w.grad = null;
    b.grad = null;
    if (step % 50 === 0) console.log(`step ${String(step).padStart(3)}  loss ${loss.item().toFixed(5)}`);
  });
}
console.log(`\nlearned w = ${w.item().toFixed(3)} (true 3), b = ${b.item().toFixed(3)} (true 2)`);

// Memory: tidy scopes and dispose() free native memory deterministically.
const before = torch.memory().tensors;
torch.tidy(() => {
  for (let i = 0; i < 1000; i++) torch.randn(100).relu();
});
console.log(`live tensors before/after a tidy scope that made 2000: ${before} / ${torch.memory().tensors}`);

// Errors are clear, never crashes.
try {
  x.matmul(torch.ones(2, 2));
} catch (e) {
  console.log(`\n${e.name}: ${e.message}`);
}
