"""Lookup ``lab_address``: the address of a lab host on the lab network, for molecule inventories.

``{{ lookup('lab_address', 'proxy') }}`` returns what ``lab/labctl.py address proxy`` prints, from
the same function (``dockyard_lab.hosts.container_address``), without starting a Python process;
``{{ lookup('lab_address', vip=0) }}`` what ``labctl.py vip`` prints (``hosts.virtual_ip``).
The lab inventories template these addresses in nearly every task (the proxy's and each backend's
address feed the shared facts): through ``lookup('pipe', 'labctl.py address ...')`` a changed=0
rerun of site.yml started labctl 155 times (about a quarter of its time on a 2-core machine). It is
looked up each time, never cached: a lab host restarted by a test may come back on another address.

Enabled for every scenario by ANSIBLE_LOOKUP_PLUGINS in .config/molecule/config.yml.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

_LAB_DIR = str(Path(__file__).resolve().parents[2])

DOCUMENTATION = r"""
name: lab_address
short_description: the address of a lab host on the lab network
description: What C(lab/labctl.py address NAME) prints, looked up in-process (dockyard lab only).
options:
  _terms:
    description: lab host (container) names
    required: true
  network:
    description: the lab network (default the lab's, DOCKYARD_LAB_NETWORK)
    type: str
  vip:
    description: instead of host addresses, the free virtual IP with this index (labctl.py vip)
    type: int
"""


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if _LAB_DIR not in sys.path:
            sys.path.insert(0, _LAB_DIR)
        from dockyard_lab.common import NETWORK  # pylint: disable=import-outside-toplevel
        from dockyard_lab.hosts import container_address, virtual_ip  # pylint: disable=import-outside-toplevel

        network = self.get_option("network") or NETWORK
        vip = self.get_option("vip")
        try:
            if vip is not None:
                return [virtual_ip(vip, network)]
            return [container_address(str(name), network) for name in terms]
        except SystemExit as exc:  # the lab's helpers exit with a message
            raise AnsibleError(str(exc)) from None
