"""Exercise 4: the backward pass of a multilayer perceptron, by hand.

Backpropagation walks from the loss back to the input and multiplies the gradient by one
local factor per layer (a weight matrix and an activation derivative). That product over
depth is exactly where gradients vanish or explode. Build the MLP from a linear layer's
forward/backward pair; the activation and its derivative are passed in as functions.

Check your work with: grader check --exercise backward
"""

import numpy as np


def mse_loss(pred, target):
    """Mean squared error: loss = mean((pred - target)**2), dpred = 2 (pred - target) / pred.size.

    Shapes: pred and target have the same shape, e.g. (N, D_out); returns (loss, dpred)
    with loss a Python float and dpred an array shaped like pred.
    Why it matters: dpred is the gradient at the output, where backpropagation starts;
    every layer's gradient is this signal times the layers' local factors.

    Hint: the mean runs over all elements (like PyTorch's MSELoss()), hence pred.size.
    """
    # BEGIN SOLUTION
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    loss = float(np.mean(diff**2))
    dpred = 2.0 * diff / diff.size
    return loss, dpred
    # END SOLUTION


def linear_forward(x, W, b):
    """Fully connected layer: out = x @ W + b.

    Shapes: x (N, fan_in), W (fan_in, fan_out), b (fan_out,); returns (out, cache) with
    out of shape (N, fan_out) and cache whatever linear_backward needs, e.g. (x, W, b).
    Why it matters: the weights are half of each layer's local factor; the backward pass
    multiplies the gradient by W's transpose once per layer.

    Hint: b broadcasts over the batch; keep the inputs in the cache, do not copy them.
    """
    # BEGIN SOLUTION
    out = x @ W + b
    cache = (x, W, b)
    return out, cache
    # END SOLUTION


def linear_backward(dout, cache):
    """Linear layer backward: dx = dout @ W.T, dW = x.T @ dout, db = dout summed over the batch.

    Shapes: dout (N, fan_out), cache from linear_forward; returns (dx, dW, db) shaped like
    x (N, fan_in), W (fan_in, fan_out) and b (fan_out,).
    Why it matters: dx = dout @ W.T is the signal handed to the previous layer; its size
    is multiplied by roughly the norm of W at every layer, which compounds with depth.

    Hint: the bias gradient sums over the batch (axis 0); check each shape against the
    parameter it belongs to.
    """
    # BEGIN SOLUTION
    x, W, _b = cache
    dx = dout @ W.T
    dW = x.T @ dout
    db = dout.sum(axis=0)
    return dx, dW, db
    # END SOLUTION


def mlp_forward(X, weights, biases, act):
    """MLP forward: Z_l = A_{l-1} @ W_l + b_l, A_l = act(Z_l) for l < L, Y_hat = Z_L.

    Shapes: X (N, D); weights[i] (fan_in, fan_out) and biases[i] (fan_out,) for layer
    i + 1, input side first; act maps an array to one of the same shape. Returns
    (Y_hat, cache), Y_hat of shape (N, fan_out of the last layer).
    Why it matters: the backward pass needs every layer's input and pre-activation Z_l;
    the activation derivative is evaluated at Z_l.

    Hint: use linear_forward for every layer and keep its cache together with Z_l; the
    last layer has no activation.
    """
    # BEGIN SOLUTION
    L = len(weights)
    A = X
    cache = []
    for layer, (W, b) in enumerate(zip(weights, biases), start=1):
        Z, linear_cache = linear_forward(A, W, b)
        cache.append((linear_cache, Z))
        A = act(Z) if layer < L else Z
    return A, cache
    # END SOLUTION


def mlp_backward(dY_hat, cache, act_grad):
    """MLP backward: dZ_L = dY_hat, dZ_l = dA_l * act_grad(Z_l) for l < L, then linear_backward.

    Shapes: dY_hat shaped like Y_hat, cache from mlp_forward; returns (dWs, dbs, dAs),
    three lists of length L, input side first: dWs[i], dbs[i] shaped like layer i + 1's
    weight and bias, dAs[i] shaped like that layer's input A_i (dAs[0] is dX).
    Why it matters: each step back multiplies by W.T and by act_grad(Z), one local factor
    per layer; the norms of dAs from output to input show vanishing or exploding.

    Hint: go from the last layer to the first; evaluate act_grad at the stored Z, not at
    the activation's output, and skip it for the linear output layer.
    """
    # BEGIN SOLUTION
    L = len(cache)
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    grad = dY_hat  # gradient with respect to the current layer's output
    for i in reversed(range(L)):
        linear_cache, Z = cache[i]
        dZ = grad if i == L - 1 else grad * act_grad(Z)
        grad, dWs[i], dbs[i] = linear_backward(dZ, linear_cache)
        dAs[i] = grad
    return dWs, dbs, dAs
    # END SOLUTION
