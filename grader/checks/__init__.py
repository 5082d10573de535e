"""The catalogue of gradable functions: module -> function -> CheckDef, listed explicitly."""

from grader.checks import activations, backward, clipping, initializers

CATALOGUE = {
    "activations": activations.CHECKS,
    "initializers": initializers.CHECKS,
    "clipping": clipping.CHECKS,
    "backward": backward.CHECKS,
}
