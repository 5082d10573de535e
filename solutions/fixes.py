"""Exercise 6: the remedies, residual connections and normalisation.

Two architectural fixes keep each layer's local factor near 1. A residual connection
adds a layer's input to its output, so the gradient has an identity path around every
block. Layer norm and batch norm rescale each layer's activations to zero mean and unit
variance, so they neither shrink nor grow with depth. Each comes as a forward/backward
pair; the backward pass takes the cache its own forward pass returned.

Check your work with: grader check --exercise fixes
"""

import numpy as np


def residual_forward(X, weights, biases, act):
    """Residual MLP forward: Z_l = A_{l-1} @ W_l + b_l; A_l = A_{l-1} + act(Z_l) when
    layer l < L maps a width onto itself, A_l = act(Z_l) otherwise; Y_hat = Z_L.

    Shapes: X (N, D); weights[i] (fan_in, fan_out) and biases[i] (fan_out,) for layer
    i + 1, input side first; act maps an array to one of the same shape. Returns
    (Y_hat, cache), Y_hat of shape (N, fan_out of the last layer).
    Why it matters: the skip A_{l-1} + ... lets the signal through unchanged even when
    act(Z_l) is small, so a deep stack does not have to multiply its way through.

    Hint: a layer can add its input only when fan_in == fan_out; the output layer L is
    linear and never adds its input, whatever its shape. Remember for the backward pass
    which layers did.
    """
    # BEGIN SOLUTION
    L = len(weights)
    A = X
    cache = []
    for layer, (W, b) in enumerate(zip(weights, biases), start=1):
        Z = A @ W + b
        skip = layer < L and W.shape[0] == W.shape[1]
        cache.append((A, W, Z, skip))
        if layer == L:
            A = Z
        elif skip:
            A = A + act(Z)
        else:
            A = act(Z)
    return A, cache
    # END SOLUTION


def residual_backward(dY_hat, cache, act_grad):
    """Residual MLP backward: dZ_l = dA_l * act_grad(Z_l) (dZ_L = dY_hat), then
    dA_{l-1} = dZ_l @ W_l.T, plus dA_l itself when layer l added its input.

    Shapes: dY_hat shaped like Y_hat, cache from residual_forward; returns (dWs, dbs,
    dAs) as mlp_backward does: three lists of length L, input side first, dAs[i] the
    gradient with respect to layer i + 1's input (dAs[0] is dX).
    Why it matters: through a residual layer the gradient arrives whole by the skip and
    the branch only adds to it: dA_{l-1} = dA_l + (branch term), so it cannot vanish.

    Hint: dW_l = A_{l-1}.T @ dZ_l and db_l = dZ_l summed over the batch, as before; the
    skip adds the incoming dA_l to what flows back through W_l.
    """
    # BEGIN SOLUTION
    L = len(cache)
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    grad = dY_hat  # gradient with respect to the current layer's output A_l
    for i in reversed(range(L)):
        A_prev, W, Z, skip = cache[i]
        dZ = grad if i == L - 1 else grad * act_grad(Z)
        dWs[i] = A_prev.T @ dZ
        dbs[i] = dZ.sum(axis=0)
        through_branch = dZ @ W.T
        grad = through_branch + grad if skip else through_branch
        dAs[i] = grad
    return dWs, dbs, dAs
    # END SOLUTION


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer norm: out = gamma * x_hat + beta, x_hat = (x - mean) / sqrt(var + eps), with
    the mean and the biased variance of each row (over the features).

    Shapes: x (N, D), gamma and beta (D,); returns (out, cache), out of shape (N, D).
    Why it matters: every example's features come out with zero mean and unit variance
    at every layer, whatever the weights did to them, so the scale cannot compound
    with depth. It does not depend on the batch, which is why transformers use it.

    Hint: np.mean and np.var with axis=1, keepdims=True; np.var divides by D (biased),
    as PyTorch does here. eps goes inside the square root.
    """
    # BEGIN SOLUTION
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * rstd
    out = gamma * x_hat + beta
    return out, (x_hat, rstd, gamma)
    # END SOLUTION


def layernorm_backward(dout, cache):
    """Layer norm backward: dbeta = sum_rows dout, dgamma = sum_rows dout * x_hat, and with
    g = dout * gamma: dx = rstd * (g - mean_row(g) - x_hat * mean_row(g * x_hat)).

    Shapes: dout (N, D), cache from layernorm_forward; returns (dx, dgamma, dbeta) shaped
    like x (N, D), gamma (D,) and beta (D,).
    Why it matters: the two subtracted terms are the gradient through the row's mean and
    variance, which depend on every entry; they keep dx free of any part that would only
    shift or rescale the row, which the normalisation undoes anyway.

    Hint: the means run over each row (axis=1, keepdims=True); dgamma and dbeta sum over
    the batch (axis=0). A check: each row of dx sums to 0.
    """
    # BEGIN SOLUTION
    x_hat, rstd, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    g = dout * gamma
    dx = rstd * (g - g.mean(axis=1, keepdims=True)
                 - x_hat * (g * x_hat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta
    # END SOLUTION


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Batch norm (training mode): out = gamma * x_hat + beta, x_hat = (x - mean) /
    sqrt(var + eps), with the mean and the biased variance of each column (over the batch).

    Shapes: x (N, D), gamma and beta (D,); returns (out, cache), out of shape (N, D).
    Why it matters: each feature is rescaled to zero mean and unit variance over the
    batch before the next layer, so the layer's factor stays near 1 however large or
    small the weights before it are.

    Hint: as layernorm_forward but with axis=0: statistics per feature, over the N rows.
    Use the biased variance (divide by N), as PyTorch does in training mode.
    """
    # BEGIN SOLUTION
    mean = x.mean(axis=0, keepdims=True)
    var = x.var(axis=0, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * rstd
    out = gamma * x_hat + beta
    return out, (x_hat, rstd, gamma)
    # END SOLUTION


def batchnorm_backward(dout, cache):
    """Batch norm backward: dbeta = sum_rows dout, dgamma = sum_rows dout * x_hat, and with
    g = dout * gamma: dx = rstd * (g - mean_col(g) - x_hat * mean_col(g * x_hat)).

    Shapes: dout (N, D), cache from batchnorm_forward; returns (dx, dgamma, dbeta) shaped
    like x (N, D), gamma (D,) and beta (D,).
    Why it matters: every example's output depends on the whole batch through the batch
    mean and variance, so every dx row gets a share of the other examples' gradients.

    Hint: the chain rule through the mean and the variance gives the two subtracted terms
    (means over the batch, axis=0); without them dx is wrong for every batch. A check:
    each column of dx sums to 0.
    """
    # BEGIN SOLUTION
    x_hat, rstd, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    g = dout * gamma
    dx = rstd * (g - g.mean(axis=0, keepdims=True)
                 - x_hat * (g * x_hat).mean(axis=0, keepdims=True))
    return dx, dgamma, dbeta
    # END SOLUTION
