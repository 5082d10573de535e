"""Exercise 5: diagnosing vanishing and exploding gradients.

Before fixing a deep network, measure it: take one norm per layer, compare the layer
nearest the input with the layer nearest the output, and call the result vanishing,
healthy or exploding. And before trusting any hand-written backward pass, check it
against centred finite differences, scored by a relative error.

Check your work with: grader check --exercise diagnostics
"""

import numpy as np


def layer_norms(grads):
    """Frobenius norm of each array, in order: norms[i] = sqrt(sum of grads[i]**2).

    Shapes: grads is a list of L arrays of any shapes (index 0 is layer 1, the input
    side); returns a float64 array of shape (L,).
    Why it matters: one number per layer turns a backward pass into a profile from input
    to output; a profile that falls or climbs by orders of magnitude is the symptom.
    Must not overflow or underflow: a 1e200 gradient has a finite norm, and so does a
    1e-200 one (its squares would be 0).

    Hint: as in global_norm of exercise 3, divide by the largest |entry| before squaring
    and multiply back afterwards; an all-zero array has norm 0.
    """
    # BEGIN SOLUTION
    norms = []
    for g in grads:
        magnitudes = np.abs(np.asarray(g, dtype=np.float64)).ravel()
        largest = magnitudes.max(initial=0.0)
        if largest == 0.0 or not np.isfinite(largest):
            norms.append(largest)
            continue
        scaled = magnitudes / largest
        norms.append(largest * np.sqrt(np.dot(scaled, scaled)))
    return np.array(norms, dtype=np.float64)
    # END SOLUTION


def gradient_ratio(norms):
    """Input side over output side: ratio = norms[0] / norms[-1].

    Shapes: norms is a 1-D sequence of L >= 1 non-negative numbers, input side first;
    returns a Python float.
    Why it matters: a ratio far below 1 means the first layers barely learn (vanishing);
    far above 1, their updates dwarf the rest (exploding).
    x / 0 gives inf and 0 / 0 gives nan, without a warning.

    Hint: convert to a numpy array first (numpy divides by zero, Python raises), and
    silence the division warnings with np.errstate.
    """
    # BEGIN SOLUTION
    norms = np.asarray(norms, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(norms[0] / norms[-1])
    # END SOLUTION


def diagnose(norms, vanish_below=1e-2, explode_above=1e2):
    """Verdict on a profile: "vanishing" if ratio < vanish_below, "exploding" if
    ratio > explode_above, else "healthy", with ratio = gradient_ratio(norms).

    Shapes: norms as for gradient_ratio, the thresholds floats; returns one of the three
    strings.
    Why it matters: the classic rule of thumb: a factor of more than 100 between the two
    ends of the network means one end learns at a very different speed from the other.
    Feed it the norms of the gradients with respect to each layer's input (dAs), not
    only of dWs: in a deep linear net every ||dW_l|| scales alike and their ratio
    stays 1, while dAs shows the vanishing or the explosion.

    Hint: both thresholds themselves count as healthy: use strict comparisons.
    """
    # BEGIN SOLUTION
    ratio = gradient_ratio(norms)
    if ratio < vanish_below:
        return "vanishing"
    if ratio > explode_above:
        return "exploding"
    return "healthy"
    # END SOLUTION


def numerical_gradient(f, x, h=1e-5):
    """Centred differences: grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h) for every entry i.

    Shapes: f maps an array shaped like x to a scalar; x is an array of any shape;
    returns a float64 array of x's shape. x must be left unchanged.
    Why it matters: it needs nothing but f, so it is the independent check of every
    backward pass you write; its error shrinks as h**2, a forward difference's only as h.

    Hint: perturb one entry of a copy of x at a time (np.ndindex walks every index); set
    it to old + h, then to old - h, then back to old, from the saved value: in floating
    point, (v + h) - 2 h is often not v - h.
    """
    # BEGIN SOLUTION
    probe = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(probe)
    for idx in np.ndindex(probe.shape):
        old = probe[idx]
        probe[idx] = old + h
        up = float(f(probe))
        probe[idx] = old - h
        down = float(f(probe))
        probe[idx] = old
        grad[idx] = (up - down) / (2.0 * h)
    return grad
    # END SOLUTION


def relative_error(a, b):
    """Gradient-check score: max(|a - b|) / max(1e-12, max(|a|) + max(|b|)).

    Shapes: a and b have the same shape; returns a Python float.
    Why it matters: gradients may be 1e-20 or 1e+20; an absolute difference means
    nothing without their scale. With h = 1e-5 in float64 a correct backward pass
    usually scores 1e-7 or less against centred differences; a wrong one, far more.

    Hint: each max is over a whole array; the 1e-12 only stops 0 / 0 when both are zero.
    """
    # BEGIN SOLUTION
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    diff = np.max(np.abs(a - b), initial=0.0)
    scale = np.max(np.abs(a), initial=0.0) + np.max(np.abs(b), initial=0.0)
    return float(diff / max(1e-12, scale))
    # END SOLUTION
