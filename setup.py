"""The compiled parts: the changed lines of an edited git blob (leakscan/sources/git/_delta.c)
and the decoders' run trigger (leakscan/engine/_runs.c).

They are optional: where no C compiler is found the install goes on and the same work is
done without them (delta.py in Python, the run trigger in Hyperscan: same answers, slower).
Everything else is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(name, [source], extra_compile_args=["-O3"], optional=True)
        for name, source in (
            ("leakscan.sources.git._delta", "leakscan/sources/git/_delta.c"),
            ("leakscan.engine._runs", "leakscan/engine/_runs.c"),
        )
    ]
)
