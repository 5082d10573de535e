"""The catalogue of gradable functions: module -> function -> CheckDef, listed explicitly."""

from grader.checks import activations, backward

CATALOGUE = {
    "activations": activations.CHECKS,
    "backward": backward.CHECKS,
}
