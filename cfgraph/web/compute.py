"""Placeholder for the issue-13 page module `cfgraph.web.compute` (being written)."""

from flask import Blueprint

bp = Blueprint("compute", __name__)
