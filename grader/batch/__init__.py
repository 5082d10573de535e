"""Grade a whole class: find the submissions in a folder, read each safely, grade each."""
