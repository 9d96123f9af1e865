"""Placeholder for the issue-13 page module `cfgraph.web.plan` (being written)."""

from flask import Blueprint

bp = Blueprint("plan", __name__)
