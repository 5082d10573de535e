"""The explorer's network written again in PyTorch, from the docstring of model.py.

Independent of the explorer's code except for the parameters it starts from: the layer
order (linear, norm, activation, skip), the MSE loss, the clip and the SGD step are
PyTorch's own.
"""

from __future__ import annotations

import numpy as np

TORCH_ACTS = {
    "sigmoid": lambda F, t: t.sigmoid(), "tanh": lambda F, t: t.tanh(),
    "relu": lambda F, t: t.relu(), "leaky_relu": lambda F, t: F.leaky_relu(t, 0.01),
    "elu": lambda F, t: F.elu(t, 1.0), "selu": lambda F, t: F.selu(t),
    "gelu": lambda F, t: F.gelu(t, approximate="tanh"), "silu": lambda F, t: F.silu(t),
    "linear": lambda F, t: t,
}


def leaves(torch, arrays):
    return [torch.tensor(np.array(a), dtype=torch.float64, requires_grad=True) for a in arrays]


def forward(torch, config, params, X):
    """(Y_hat, the input of every layer, the activation input H of every hidden layer)."""
    F = torch.nn.functional
    Ws, bs, gammas, betas = params
    act = TORCH_ACTS[config.activation]
    A = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    inputs, Hs = [A], []
    for l in range(config.depth - 1):
        Z = A @ Ws[l] + bs[l]
        if config.norm == "batch":
            Z = F.batch_norm(Z, None, None, gammas[l], betas[l], training=True, eps=1e-5)
        elif config.norm == "layer":
            Z = F.layer_norm(Z, (config.width,), gammas[l], betas[l], eps=1e-5)
        Hs.append(Z)
        out = act(F, Z)
        A = A + out if config.residual else out
        inputs.append(A)
    return A @ Ws[-1] + bs[-1], inputs, Hs


def trained(config, params):
    Ws, bs, gammas, betas = params
    return [*Ws, *(bs if config.bias else ()), *gammas, *betas]


def measure(torch, config, net, X, T):
    """What the explorer's snapshot reports, computed by autograd."""
    F = torch.nn.functional
    params = tuple(leaves(torch, a) for a in (net.weights, net.biases, net.gammas, net.betas))
    Y_hat, inputs, Hs = forward(torch, config, params, X)
    loss = F.mse_loss(Y_hat, torch.tensor(T))
    grads = torch.autograd.grad(loss, [*inputs, *params[0], Y_hat])
    L = config.depth
    dAs, dWs, dY = grads[:L], grads[L:2 * L], grads[-1]
    slopes = []
    for H in Hs:
        H = H.detach().requires_grad_(True)
        (slope,) = torch.autograd.grad(TORCH_ACTS[config.activation](F, H).sum(), H)
        slopes.append(slope.abs().max().item())
    spectral = [torch.linalg.matrix_norm(W.detach(), ord=2).item() for W in params[0]]
    return {"loss": loss.item(), "grad_norms": [d.norm().item() for d in dAs],
            "weight_grad_norms": [d.norm().item() for d in dWs], "output_grad_norm":
            dY.norm().item(), "factors": [s * a for s, a in zip(spectral, slopes + [1.0])]}


def history(torch, config, net, X, T):
    """The loss before each of config.steps SGD steps, clipped as configured."""
    F = torch.nn.functional
    params = tuple(leaves(torch, a) for a in (net.weights, net.biases, net.gammas, net.betas))
    losses = []
    for _ in range(config.steps):
        Y_hat, _, _ = forward(torch, config, params, X)
        loss = F.mse_loss(Y_hat, torch.tensor(T))
        losses.append(loss.item())
        learned = trained(config, params)
        for p in learned:
            p.grad = None
        loss.backward()
        if config.clip is not None:
            torch.nn.utils.clip_grad_norm_(learned, config.clip)
        with torch.no_grad():
            for p in learned:
                p -= config.lr * p.grad
    return losses
