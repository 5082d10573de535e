"""Exercise 7: training, where gradients meet the optimizer.

Plain stochastic gradient descent on the MLP of exercise 4 with the MSE loss, with an
optional clip by global norm between the backward pass and the step. The history it
returns, the loss and one gradient norm per layer at every step, is what you would
watch to see a run stall (vanishing) or blow up (exploding).

This module stands alone: write the forward pass, the loss, the backward pass and the
clip inside it rather than importing them from your other exercises.

Check your work with: grader check --exercise training
"""

import numpy as np


def sgd_train(X, Y, weights, biases, act, act_grad, lr, steps, max_norm=None):
    """Plain SGD: each step, W_l <- W_l - lr * dW_l and b_l <- b_l - lr * db_l, with the
    gradients of loss = mean((Y_hat - Y)**2) from one forward and one backward pass.

    Shapes: X (N, D), Y (N, fan_out of layer L); weights[i] (fan_in, fan_out) and
    biases[i] (fan_out,) for layer i + 1, input side first; act and act_grad as in
    mlp_forward/mlp_backward; lr a float, steps an int, max_norm None or a float.
    Returns {"loss": array (steps,), "grad_norms": array (steps, L)}: the loss before
    each step and the Frobenius norm of each layer's weight gradient, before clipping.
    When max_norm is given, all the gradients (dWs and dbs together) are multiplied by
    min(1, max_norm / (total_norm + 1e-6)), total_norm their joint 2-norm, before the
    step: clip_grad_norm(dWs + dbs, max_norm) of exercise 3. Like global_norm there,
    the norms must not overflow when the gradients explode. The inputs are not modified.
    Why it matters: a network whose gradients explode takes a few huge steps and its
    loss turns into inf or nan; clipping bounds each step and keeps the run going. The
    grad_norms profile shows which layers learn and which are frozen.

    Hint: copy the weights and biases first (np.array(W, copy=True)) and update the
    copies; record the loss and the norms before clipping and before the update.
    """
    # BEGIN SOLUTION
    def norm(arrays):
        # The joint 2-norm, scaled by the largest entry as in global_norm: an exploding
        # run reaches gradients whose squares overflow to inf.
        flat = np.concatenate([np.abs(a).ravel() for a in arrays])
        largest = flat.max(initial=0.0)
        if largest == 0.0 or not np.isfinite(largest):
            return largest
        scaled = flat / largest
        return largest * np.sqrt(np.dot(scaled, scaled))

    Ws = [np.array(W, dtype=np.float64, copy=True) for W in weights]
    bs = [np.array(b, dtype=np.float64, copy=True) for b in biases]
    L = len(Ws)
    losses = np.zeros(steps)
    grad_norms = np.zeros((steps, L))
    for step in range(steps):
        # Forward: keep each layer's input and pre-activation for the backward pass.
        A, inputs, Zs = X, [], []
        for layer in range(L):
            inputs.append(A)
            Z = A @ Ws[layer] + bs[layer]
            Zs.append(Z)
            A = Z if layer == L - 1 else act(Z)
        diff = A - Y
        losses[step] = np.mean(diff**2)

        # Backward: from dY_hat = 2 (Y_hat - Y) / size down to layer 1.
        grad = 2.0 * diff / diff.size
        dWs, dbs = [None] * L, [None] * L
        for layer in reversed(range(L)):
            dZ = grad if layer == L - 1 else grad * act_grad(Zs[layer])
            dWs[layer] = inputs[layer].T @ dZ
            dbs[layer] = dZ.sum(axis=0)
            grad = dZ @ Ws[layer].T
        grad_norms[step] = [norm([dW]) for dW in dWs]

        if max_norm is not None:
            total_norm = norm(dWs + dbs)
            scale = min(max_norm / (total_norm + 1e-6), 1.0)
            dWs = [dW * scale for dW in dWs]
            dbs = [db * scale for db in dbs]
        for layer in range(L):
            Ws[layer] -= lr * dWs[layer]
            bs[layer] -= lr * dbs[layer]
    return {"loss": losses, "grad_norms": grad_norms}
    # END SOLUTION
