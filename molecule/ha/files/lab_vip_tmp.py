#!/usr/bin/env python3
"""TEMPORARY (until labctl.py vip exists after the split): a free high address of the lab network."""
import ipaddress
import json
import subprocess

out = subprocess.run(["docker", "network", "inspect", "dockyard-lab", "--format", "{{ json .IPAM.Config }}"],
                     capture_output=True, text=True, check=True).stdout
net = ipaddress.ip_network(json.loads(out)[0]["Subnet"])
print(net.broadcast_address - 2)
