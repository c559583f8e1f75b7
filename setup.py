"""The one compiled part: the changed lines of an edited git blob (leakscan/sources/git/_delta.c).

It is optional: where no C compiler is found the install goes on and delta.py's Python
version is used (same answers, slower). Everything else is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "leakscan.sources.git._delta",
            ["leakscan/sources/git/_delta.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
