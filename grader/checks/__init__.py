"""The catalogue of gradable functions: module -> function -> CheckDef, listed explicitly."""

from grader.checks import (activations, backward, clipping, diagnostics, fixes, initializers,
                           training)

CATALOGUE = {
    "activations": activations.CHECKS,
    "initializers": initializers.CHECKS,
    "clipping": clipping.CHECKS,
    "backward": backward.CHECKS,
    "diagnostics": diagnostics.CHECKS,
    "fixes": fixes.CHECKS,
    "training": training.CHECKS,
}
