"""The vendored request schemas, shipped inside the package as `worker.schemas`.

This folder stays at the top of the repository (see README.md here), and the build maps it into the
package (`setup.py`), so an installed gateway reads the JSON files with `importlib.resources` and needs
no file of the source tree. It holds data only; nothing imports it by the name `schemas`.
"""
