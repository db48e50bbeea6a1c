"""Where the package's files come from; everything else about the project is in pyproject.toml.

The vendored JSON schemas live in the repository's top-level `schemas/` folder but must ship inside the
package, as `worker.schemas`, so an installed gateway finds them through `importlib.resources`. A
`package_dir` entry does that mapping for wheels and editable installs alike; it has to sit here rather
than in pyproject.toml because pyproject's `packages.find` cannot add a package that lives outside the
folder it searches, and listing every `worker` subpackage by hand there would go stale silently.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["worker", "worker.*"]), "worker.schemas"],
    package_dir={"worker.schemas": "schemas"},
    package_data={
        "worker": ["py.typed"],
        "worker.schemas": ["*.json"],
        "worker.console": ["static/*"],
    },
)
