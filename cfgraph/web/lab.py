"""Placeholder for the issue-13 page module `cfgraph.web.lab` (being written)."""

from flask import Blueprint

bp = Blueprint("lab", __name__)
