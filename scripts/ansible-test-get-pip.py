"""Offline stand-in for https://ci-files.testing.ansible.com/ansible-test/get-pip-24.2.py.

That host is unreachable here; PyPI is. Like get-pip.py, run pip (from the interpreter's bundled
ensurepip wheel) as `pip install --upgrade --force-reinstall <args>`, accepting get-pip's own
--no-setuptools / --no-wheel flags. The packages themselves come from the configured PyPI index.
"""
import glob
import os
import runpy
import sys

import ensurepip

wheels = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))
wheels += sorted(glob.glob("/usr/share/python-wheels/pip-*.whl"))
if not wheels:
    sys.exit("no bundled pip wheel found for %s" % sys.executable)
sys.path.insert(0, wheels[0])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--upgrade", "--force-reinstall"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
