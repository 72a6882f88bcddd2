"""cluster.yaml: SSH only from a CIDR the user sets, least-privilege worker profile (documented).

Ray 2.60's launcher opens SSH to the whole internet in any security group it creates itself
(``autoscaler/_private/aws/config.py::_create_default_ssh_inbound_rules``, added whatever
``provider.security_group.IpPermissions`` says); it creates none when every node type names its
``SecurityGroupIds``. So: every node type must name the user's group, workers must not get the
head's EC2 + S3 profile, and README must give the exact worker policy and SSH rule.
(Schema and launcher validity: tests/test_distributed.py -k cluster_yaml.)
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _cfg() -> dict:
    return yaml.safe_load((REPO / "cluster.yaml").read_text())


def test_every_node_type_uses_the_users_security_group():
    cfg = _cfg()
    assert "security_group" not in cfg["provider"]  # a launcher-made group would open SSH to the world
    for name, t in cfg["available_node_types"].items():
        sgs = t["node_config"].get("SecurityGroupIds")
        assert sgs == ["sg-CHANGE-ME"], (name, sgs)


def test_the_launcher_would_create_no_security_group():
    """Ray's own configuration step returns the config untouched when every node type names a group."""
    from ray.autoscaler._private.aws import config as aws_config

    cfg = _cfg()
    assert aws_config._configure_security_group(cfg) is cfg  # returned before any AWS call


def test_workers_get_the_s3_only_profile():
    cfg = _cfg()
    head = cfg["head_node_type"]
    for name, t in cfg["available_node_types"].items():
        if name != head:
            assert t["node_config"]["IamInstanceProfile"] == {"Name": "sweeper-worker"}, name


def _readme_json_block(marker: str) -> dict:
    text = (REPO / "README.md").read_text()
    i = text.index(marker)
    block = re.search(r"```json\n(.*?)```", text[i:], re.S)
    assert block, f"no JSON block after {marker!r} in README"
    return json.loads(block.group(1))


def test_readme_documents_the_exact_worker_policy():
    policy = _readme_json_block("sweeper-worker policy")
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                       "s3:AbortMultipartUpload"}
    for s in policy["Statement"]:
        assert s["Effect"] == "Allow" and "*" not in s["Resource"].split(":::")[0]
        assert s["Resource"].startswith("arn:aws:s3:::"), s["Resource"]
        assert s["Resource"] not in ("arn:aws:s3:::*", "*")
    text = (REPO / "README.md").read_text()
    assert "--cidr \"$MY_CIDR\"" in text and "authorize-security-group-ingress" in text
