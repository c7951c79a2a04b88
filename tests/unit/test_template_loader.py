"""The local runner reads template.yaml with libyaml's loader: the same document as PyYAML's own."""

from __future__ import annotations

from pathlib import Path

import yaml

from covid_pipeline.runner import template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def test_libyaml_reads_the_template_as_the_pure_python_loader_does() -> None:
    class PurePython(yaml.SafeLoader):
        pass

    PurePython.add_multi_constructor("!", template._cfn_tag)
    text = TEMPLATE.read_text()
    assert yaml.__with_libyaml__  # PyYAML's wheels are built with it; without it the runner falls back
    assert template._CfnLoader.__mro__[1] is yaml.CSafeLoader
    fast = yaml.load(text, Loader=template._CfnLoader)
    slow = yaml.load(text, Loader=PurePython)
    assert fast == slow
    assert fast["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]
