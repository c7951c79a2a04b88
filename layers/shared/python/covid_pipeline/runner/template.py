"""Reads template.yaml for the local runner: functions, Glue jobs, the state machine and its wiring.

CloudFormation intrinsics (Ref, GetAtt, Sub, Join) are resolved with local
stand-ins for physical names, so the definition, the function environments and
the Glue job arguments come from the same template that ``sam deploy`` uses.
Anything the resolver does not understand fails loudly, naming where it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from covid_pipeline.ports import PipelineError

LOCAL_REGION = "local"
LOCAL_ACCOUNT = "000000000000"


class TemplateError(PipelineError):
    pass


# libyaml's SafeLoader where PyYAML was built with it (its wheels are): the same documents, 9x faster than the
# pure-Python one (7 ms for template.yaml, not 60), and the CLI reads the template on every command.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that understands CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _cfn_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int


@dataclass(frozen=True)
class GlueJobSpec:
    logical_id: str
    name: str
    script: Path
    default_arguments: dict[str, str]


# The property holding a resource's name, where it is not "Name".
NAME_PROPERTIES = {
    "AWS::RedshiftServerless::Workgroup": "WorkgroupName",
    "AWS::RedshiftServerless::Namespace": "NamespaceName",
    "AWS::Logs::LogGroup": "LogGroupName",
}

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class LocalTemplate:
    def __init__(
        self, path: Path, stack_name: str = "covid-pipeline-local", parameters: Mapping[str, str] | None = None
    ) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.stack_name = stack_name
        try:
            self.doc = yaml.load(self.path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
        except (OSError, yaml.YAMLError) as exc:
            raise TemplateError(f"cannot read template {self.path}: {exc}") from exc
        self.resources: dict[str, dict[str, Any]] = self.doc.get("Resources", {})
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in self.doc.get("Parameters", {}).items()}
        # Like `sam deploy --parameter-overrides`: only parameters the template declares.
        unknown = sorted(set(parameters or {}) - set(self.parameters))
        if unknown:
            raise TemplateError(f"template {self.path} has no parameter(s) {unknown}")
        self.parameters.update(parameters or {})

    # -- intrinsics -------------------------------------------------------
    def _props(self, logical_id: str) -> dict[str, Any]:
        if logical_id not in self.resources:
            raise TemplateError(f"template has no resource {logical_id!r}")
        return self.resources[logical_id].get("Properties", {}) or {}

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"!Ref {name}: no such parameter or resource")
        rtype, props = resource["Type"], self._props(name)
        default_name = (
            f"{self.stack_name}-{name}".lower() if rtype == "AWS::S3::Bucket" else f"{self.stack_name}-{name}"
        )
        if rtype == "AWS::S3::Bucket":
            return str(self.resolve(props.get("BucketName", default_name)))
        if rtype == "AWS::Glue::Database":
            return str(self.resolve(props["DatabaseInput"]["Name"]))
        if rtype == "AWS::SNS::Topic":
            topic = self.resolve(props.get("TopicName", default_name))
            return f"arn:aws:sns:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{topic}"
        if rtype in {"AWS::Serverless::Function", "AWS::Lambda::Function"}:
            return str(self.resolve(props.get("FunctionName", default_name)))
        if rtype == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{default_name}"
        name_property = NAME_PROPERTIES.get(rtype, "Name")
        return str(self.resolve(props.get(name_property, default_name)))

    def get_att(self, logical_id: str, attribute: str) -> str:
        rtype = self.resources.get(logical_id, {}).get("Type")
        name = self.ref(logical_id)
        if rtype in {"AWS::Serverless::Function", "AWS::Lambda::Function"} and attribute == "Arn":
            return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name}"
        if rtype == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{name}"
        if rtype == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{name}"
        if rtype == "AWS::SNS::Topic" and attribute == "TopicName":
            return name.rsplit(":", 1)[-1]
        if rtype == "AWS::RedshiftServerless::Namespace" and attribute == "Namespace.AdminPasswordSecretArn":
            return f"arn:aws:secretsmanager:{LOCAL_REGION}:{LOCAL_ACCOUNT}:secret:redshift!{name}-admin"
        raise TemplateError(f"!GetAtt {logical_id}.{attribute} is not supported by the local runner")

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(name)

        return _SUB_VAR.sub(replace, text).replace("${!", "${")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Sub":
                return self._sub(arg, {}) if isinstance(arg, str) else self._sub(arg[0], arg[1])
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in arg[1])
            if key == "Fn::If":
                condition, if_true, if_false = arg
                return self.resolve(if_true if self.condition(condition) else if_false)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local runner")
        return {k: self.resolve(v) for k, v in value.items()}

    def condition(self, name: str) -> bool:
        conditions = self.doc.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"template has no condition {name!r}")
        return self._evaluate(conditions[name])

    def _evaluate(self, expr: Any) -> bool:
        if isinstance(expr, dict) and len(expr) == 1:
            ((key, arg),) = expr.items()
            if key == "Fn::Equals":
                return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
            if key == "Fn::Not":
                return not self._evaluate(arg[0])
            if key == "Fn::And":
                return all(self._evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(self._evaluate(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
        raise TemplateError(f"condition {expr!r} is not supported by the local runner")

    # -- resources ----------------------------------------------------------
    def _of_type(self, *types: str) -> list[str]:
        return [lid for lid, r in self.resources.items() if r.get("Type") in types]

    def functions(self) -> dict[str, FunctionSpec]:
        globals_fn = self.doc.get("Globals", {}).get("Function", {})
        specs = {}
        for lid in self._of_type("AWS::Serverless::Function"):
            props = self._props(lid)
            env = dict(globals_fn.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            code_uri = props.get("CodeUri", globals_fn.get("CodeUri"))
            if not isinstance(code_uri, str):
                raise TemplateError(f"{lid}: the local runner needs CodeUri as a local path")
            specs[lid] = FunctionSpec(
                logical_id=lid,
                name=self.ref(lid),
                arn=self.get_att(lid, "Arn"),
                code_dir=self.root / code_uri,
                handler=str(props.get("Handler", globals_fn.get("Handler"))),
                environment={k: str(self.resolve(v)) for k, v in env.items()},
                timeout_s=int(self.resolve(props.get("Timeout", globals_fn.get("Timeout", 3)))),
                memory_mb=int(self.resolve(props.get("MemorySize", globals_fn.get("MemorySize", 128)))),
            )
        return specs

    def glue_jobs(self) -> dict[str, GlueJobSpec]:
        specs = {}
        for lid in self._of_type("AWS::Glue::Job"):
            props = self._props(lid)
            # On AWS the script is read from S3; the repository's copy is named in Metadata.LocalScript.
            location = (self.resources[lid].get("Metadata") or {}).get(
                "LocalScript", props["Command"]["ScriptLocation"]
            )
            if not isinstance(location, str) or location.startswith("s3://"):
                raise TemplateError(
                    f"{lid}: the local runner needs Metadata.LocalScript (or ScriptLocation) as a local path"
                )
            name = self.ref(lid)
            specs[name] = GlueJobSpec(
                logical_id=lid,
                name=name,
                script=self.root / location,
                default_arguments={k: str(self.resolve(v)) for k, v in props.get("DefaultArguments", {}).items()},
            )
        return specs

    def state_machine(self, logical_id: str | None = None) -> tuple[str, dict[str, Any]]:
        """(name, definition with DefinitionSubstitutions applied) of the template's state machine."""
        candidates = self._of_type("AWS::Serverless::StateMachine")
        if logical_id is None:
            if len(candidates) != 1:
                raise TemplateError(f"expected one state machine in the template, found {candidates}")
            logical_id = candidates[0]
        props = self._props(logical_id)
        text = (self.root / props["DefinitionUri"]).read_text()
        substitutions = {k: str(self.resolve(v)) for k, v in props.get("DefinitionSubstitutions", {}).items()}
        missing = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - set(substitutions))
        if missing:
            raise TemplateError(f"{props['DefinitionUri']} uses ${{...}} not in DefinitionSubstitutions: {missing}")
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", value)
        return self.ref(logical_id).rsplit(":", 1)[-1], json.loads(text)
