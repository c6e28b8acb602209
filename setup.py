"""The native half of `pip install .`: make builds the filrec binary, libfilrec.so and
the support module for the interpreter running this build, into a private build
folder, and they are put into the package as filrec/_native/ (the layout
python/filrec/_native.py and `filrec run` look for). Everything else is in
pyproject.toml."""
import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildNative(build_py):
    def run(self):
        super().run()
        out = os.path.join(HERE, "build", "pip-%s" % sysconfig.get_config_var("SOABI"))
        cmd = ["make", "-C", HERE, "B=" + out, "PYTHONS=" + sys.executable, "native"]
        self.announce("filrec: " + " ".join(cmd), level=2)
        subprocess.check_call(cmd)
        dest = os.path.join(self.build_lib, "filrec", "_native")
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        for f in ("filrec", "libfilrec.so"):
            shutil.copy2(os.path.join(out, f), dest)
        shutil.copytree(os.path.join(out, "python"), os.path.join(dest, "python"))


class NativeDistribution(Distribution):
    def has_ext_modules(self):
        return True  # a wheel for this platform and interpreter, not "any"


setup(
    packages=["filrec"],
    package_dir={"": "python"},
    package_data={"filrec": ["_site/*.py"]},
    cmdclass={"build_py": BuildNative},
    distclass=NativeDistribution,
    zip_safe=False,
)
