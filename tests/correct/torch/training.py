# A correct submission computed with PyTorch float64, written independently of the reference solutions.
"""Plain SGD on the MLP with the MSE loss, by PyTorch float64 autograd and clip_grad_norm_."""
import numpy as np
import torch
import torch.nn.functional as F


class _NumpyAct(torch.autograd.Function):
    """The hidden activation given as numpy callables, mapped into autograd."""

    @staticmethod
    def forward(ctx, z, act, act_grad):
        zn = z.detach().numpy().copy()
        ctx.save_for_backward(z)
        ctx.act_grad = act_grad
        return torch.from_numpy(np.array(act(zn), dtype=np.float64, copy=True))

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        local = torch.from_numpy(np.array(ctx.act_grad(z.detach().numpy().copy()), dtype=np.float64, copy=True))
        return g * local, None, None


@torch.enable_grad()
def sgd_train(X, Y, weights, biases, act, act_grad, lr, steps, max_norm=None):
    Xt = torch.from_numpy(np.array(X, dtype=np.float64, copy=True))
    Yt = torch.from_numpy(np.array(Y, dtype=np.float64, copy=True))
    Ws = [torch.from_numpy(np.array(W, dtype=np.float64, copy=True)).requires_grad_(True) for W in weights]
    bs = [torch.from_numpy(np.array(b, dtype=np.float64, copy=True)).requires_grad_(True) for b in biases]
    L = len(Ws)
    steps = int(steps)
    losses = np.zeros((steps,), dtype=np.float64)
    grad_norms = np.zeros((steps, L), dtype=np.float64)
    for s in range(steps):
        for p in Ws + bs:
            p.grad = None
        A = Xt
        for l in range(L):
            Z = A @ Ws[l] + bs[l]
            A = _NumpyAct.apply(Z, act, act_grad) if l < L - 1 else Z
        loss = F.mse_loss(A, Yt)
        loss.backward()
        losses[s] = loss.item()
        for l in range(L):
            grad_norms[s, l] = torch.linalg.vector_norm(Ws[l].grad.reshape(-1), ord=2).item()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(Ws + bs, max_norm, norm_type=2.0)
        with torch.no_grad():
            for p in Ws + bs:
                p -= lr * p.grad
    return {"loss": losses, "grad_norms": grad_norms}
