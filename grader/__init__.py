"""An autograder for the course's exercises on vanishing and exploding gradients."""

__version__ = "0.1.0"
