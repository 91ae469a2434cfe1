"""The optional C fast path of the data plane (``src/tunnelgate/esp/_fast.c``).

Everything else is in pyproject.toml. The extension is optional: without a C compiler or
OpenSSL's headers the install goes on without it and the daemon uses the Python data path.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tunnelgate.esp._fast",
            ["src/tunnelgate/esp/_fast.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
