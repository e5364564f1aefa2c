"""The lab's one S3 client: ``lab/images/s3/s3lite.py`` (SigV4, Python standard library only).

``s3lite.py`` is part of the ``dockyard-lab/s3`` image recipe (the image's bootstrap creates the
registry's bucket with it), so it is used from there rather than copied: ``load_s3lite()`` imports
it on the controller without writing bytecode next to it, and ``s3lite_program(code)`` wraps its
source into a self-contained program for ``python3 -`` on a lab host (nothing is left there).
``s3_facts()`` (in ``images``) holds the credentials the image boots with.
"""

from __future__ import annotations

import sys
import types

from dockyard_lab.common import IMAGES_DIR

S3LITE = IMAGES_DIR / "s3" / "s3lite.py"
_MODULE = "dockyard_lab_s3lite"


def load_s3lite() -> types.ModuleType:
    """``s3lite.py`` as a module (``S3Client``, ``sigv4_headers``, ``S3Error``, ...)."""
    module = sys.modules.get(_MODULE)
    if module is None:
        module = types.ModuleType(_MODULE)
        module.__file__ = str(S3LITE)
        sys.modules[_MODULE] = module  # dataclasses look their module up there
        exec(compile(S3LITE.read_text(), str(S3LITE), "exec"), module.__dict__)  # noqa: S102
    return module


def s3lite_program(code: str) -> str:
    """A program for ``python3 -``: s3lite's source loaded as the module ``s3lite`` (its own command
    line does not run), then ``code``, which can use ``s3lite`` and ``sys``."""
    return (
        "import sys\nimport types\n"
        "s3lite = types.ModuleType('s3lite')\n"
        "sys.modules['s3lite'] = s3lite\n"
        f"exec(compile({S3LITE.read_text()!r}, 's3lite.py', 'exec'), s3lite.__dict__)\n"
        + code
    )
