# Having a conftest here puts tests/ on sys.path, so test files in sub-folders can share
# plain helper modules kept beside it (proctree.py).
