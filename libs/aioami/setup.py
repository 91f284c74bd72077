"""Builds aioami's optional C speedup; everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "aioami._speedups",
            ["src/aioami/_speedups.c"],
            optional=True,  # no compiler: aioami still installs and runs in pure Python
            extra_compile_args=["-O2"],
        )
    ]
)
