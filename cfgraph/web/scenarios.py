"""Placeholder for the issue-13 page module `cfgraph.web.scenarios` (being written)."""

from flask import Blueprint

bp = Blueprint("scenarios", __name__)
