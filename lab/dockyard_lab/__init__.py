"""dockyard lab: build the offline lab and run its hosts safely on this Docker host.

The logic behind ``lab/labctl.py`` (the command line), one concern per module:

* ``common``   settings (paths, names, ``DOCKYARD_LAB_*`` overrides) and ``run`` / ``docker`` / ``log``
* ``images``   the lab images and artifacts, rebuilt only when their recipe hash changed
* ``cgroups``  the host's cgroup layout and capability bounding set, and the ``docker run``
               arguments a systemd lab host gets from them
* ``hosts``    the shared lab network and the lifecycle of lab hosts (create, wait, destroy)
* ``s3``       the lab's one S3 client (``lab/images/s3/s3lite.py``), loaded here or sent to a lab host

Everything the lab needs comes from Debian's mirrors (and PyPI for the controller).
"""
