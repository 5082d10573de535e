"""Exercise 1: activation functions and their derivatives.

During backpropagation every hidden layer multiplies the incoming gradient by the
activation's derivative at that layer's pre-activation, so the size of that derivative
decides whether gradients fade, survive or grow with depth. Implement each activation and
its derivative for float64 arrays of any shape, safe for very large inputs.

Check your work with: grader check --exercise activations
"""

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def sigmoid(z):
    """Logistic sigmoid: sigmoid(z) = 1 / (1 + exp(-z)).

    Shapes: z is an array of any shape (0-d included); returns an array of the same shape.
    Why it matters: the outputs flatten out at 0 and 1, and a gradient passing back
    through a saturated unit is multiplied by almost zero.
    Must be safe for huge |z|: sigmoid(-1000.0) is 0.0 and sigmoid(1000.0) is 1.0, with
    no overflow warning.

    Hint: exp(-|z|) never overflows; use 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    # END SOLUTION


def sigmoid_grad(z):
    """Derivative of the sigmoid: sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z)).

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: sigmoid' is at most 0.25 (at z = 0), so ten sigmoid layers multiply
    the backpropagated gradient by at most 0.25**10 ~ 9.5e-7: the vanishing gradient.

    Hint: evaluate the derivative at the pre-activation z, not at the output; reuse sigmoid.
    """
    # BEGIN SOLUTION
    s = sigmoid(z)
    return np.asarray(s * (1.0 - s))
    # END SOLUTION


def tanh(z):
    """Hyperbolic tangent: tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z)).

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: tanh is zero-centred (better than sigmoid), but it still saturates
    at -1 and +1, where its slope is almost zero.

    Hint: numpy already has a numerically stable tanh (on a 0-d array it returns a numpy
    float64, which is fine).
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return np.asarray(np.tanh(z))
    # END SOLUTION


def tanh_grad(z):
    """Derivative of tanh: tanh'(z) = 1 - tanh(z)**2.

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: the slope is 1 only at z = 0 and decays quickly, so deep tanh
    networks with large pre-activations still lose their gradient.

    Hint: evaluate the derivative at the pre-activation z, not at the output.
    """
    # BEGIN SOLUTION
    t = tanh(z)
    return np.asarray(1.0 - t * t)
    # END SOLUTION


def relu(z):
    """Rectified linear unit: relu(z) = max(z, 0).

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: for positive inputs the slope is exactly 1, so active units pass the
    gradient back unchanged instead of shrinking it as sigmoid does.

    Hint: np.maximum compares element by element (np.max reduces the whole array).
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return np.asarray(np.maximum(z, 0.0))
    # END SOLUTION


def relu_grad(z):
    """Derivative of ReLU: relu'(z) = 1 if z > 0 else 0 (so relu'(0) = 0, as in PyTorch).

    Shapes: z is an array of any shape; returns a float64 array of the same shape.
    Why it matters: a unit whose pre-activation stays negative gets a zero gradient on
    every example; such a dead unit never learns again.

    Hint: a strict comparison z > 0 gives the kink at 0 the value 0.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, 1.0, 0.0)
    # END SOLUTION


def leaky_relu(z, alpha=0.01):
    """Leaky ReLU: leaky_relu(z) = z if z > 0 else alpha * z.

    Shapes: z is an array of any shape, alpha a float; returns an array of the same shape.
    Why it matters: the small negative slope alpha keeps some gradient flowing through
    units that a plain ReLU would leave dead.

    Hint: np.where(condition, a, b) picks element by element.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, z, alpha * z)
    # END SOLUTION


def leaky_relu_grad(z, alpha=0.01):
    """Derivative of leaky ReLU: 1 if z > 0 else alpha (so leaky_relu'(0) = alpha).

    Shapes: z is an array of any shape, alpha a float; returns a float64 array of the
    same shape.
    Why it matters: the derivative is never zero, so no unit is cut off from the
    gradient for good.

    Hint: evaluate the derivative at the pre-activation z; the kink at 0 takes alpha.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, 1.0, float(alpha))
    # END SOLUTION


def elu(z, alpha=1.0):
    """Exponential linear unit: elu(z) = z if z > 0 else alpha * (exp(z) - 1).

    Shapes: z is an array of any shape, alpha a float; returns an array of the same shape.
    Why it matters: like ReLU it does not saturate for positive inputs, and its smooth
    negative part pushes mean activations towards zero.
    Must not overflow: never compute exp of a large positive z.

    Hint: np.expm1(np.minimum(z, 0.0)) is exp(z) - 1 on the negative side, safely.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))
    # END SOLUTION


def elu_grad(z, alpha=1.0):
    """Derivative of ELU: 1 if z > 0 else alpha * exp(z) (so elu'(0) = alpha).

    Shapes: z is an array of any shape, alpha a float; returns an array of the same shape.
    Why it matters: the slope fades smoothly on the negative side instead of dropping
    to zero, so units are rarely completely silenced.

    Hint: evaluate the derivative at the pre-activation z; clip z at 0 before np.exp.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))
    # END SOLUTION


def selu(z):
    """Scaled ELU: selu(z) = SELU_SCALE * (z if z > 0 else SELU_ALPHA * (exp(z) - 1)).

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: with LeCun-normal weights, the constants make activations drift
    towards zero mean and unit variance layer after layer (self-normalisation), which
    keeps the per-layer gradient factor close to 1.

    Hint: use the module constants SELU_ALPHA and SELU_SCALE; avoid exp of large z.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    negative = SELU_ALPHA * np.expm1(np.minimum(z, 0.0))
    return np.asarray(SELU_SCALE * np.where(z > 0, z, negative))
    # END SOLUTION


def selu_grad(z):
    """Derivative of SELU: SELU_SCALE * (1 if z > 0 else SELU_ALPHA * exp(z)).

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: the slope is SELU_SCALE > 1 for positive inputs, which offsets the
    shrinking on the negative side; at the kink selu'(0) = SELU_SCALE * SELU_ALPHA.

    Hint: evaluate the derivative at the pre-activation z; clip z at 0 before np.exp.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    slope = np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0.0)))
    return np.asarray(SELU_SCALE * slope)
    # END SOLUTION


def gelu(z):
    """GELU, tanh form: gelu(z) = 0.5 * z * (1 + tanh(sqrt(2/pi) * (z + 0.044715 * z**3))).

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: a smooth ReLU-like curve (the default in transformers) that behaves
    like the identity for large positive z, so it does not saturate there.

    Hint: this is PyTorch's gelu(approximate="tanh"); use exactly this formula.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    inner = np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3)
    return np.asarray(0.5 * z * (1.0 + np.tanh(inner)))
    # END SOLUTION


def gelu_grad(z):
    """Derivative of the tanh-form GELU, with u = sqrt(2/pi) * (z + 0.044715 * z**3):
    gelu'(z) = 0.5 * (1 + tanh(u)) + 0.5 * z * (1 - tanh(u)**2) * du/dz.

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: the slope is close to 1 for positive z and close to 0 for very
    negative z, with a small dip below zero in between.

    Hint: product rule, with du/dz = sqrt(2/pi) * (1 + 3 * 0.044715 * z**2).
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    k = np.sqrt(2.0 / np.pi)
    t = np.tanh(k * (z + 0.044715 * z**3))
    du_dz = k * (1.0 + 3.0 * 0.044715 * z * z)
    return np.asarray(0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du_dz)
    # END SOLUTION


def silu(z):
    """SiLU (swish): silu(z) = z * sigmoid(z).

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: smooth and unbounded above like ReLU, so active units keep a slope
    near 1 instead of saturating.

    Hint: reuse your numerically safe sigmoid.
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return np.asarray(z * sigmoid(z))
    # END SOLUTION


def silu_grad(z):
    """Derivative of SiLU: silu'(z) = sigmoid(z) * (1 + z * (1 - sigmoid(z))).

    Shapes: z is an array of any shape; returns an array of the same shape.
    Why it matters: the slope tends to 1 for large positive z and to 0 for very
    negative z, so the gradient passes through active units almost unchanged.

    Hint: evaluate the derivative at the pre-activation z; product rule on z * sigmoid(z).
    """
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    s = sigmoid(z)
    return np.asarray(s * (1.0 + z * (1.0 - s)))
    # END SOLUTION
