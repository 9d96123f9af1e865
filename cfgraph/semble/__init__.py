"""Related work from Semble over the AT Protocol.

Semble (semble.so) keeps link cards and collections as atproto records in each
user's repository. This package reads them and mirrors the related-work shelves
into the store:

- :mod:`cfgraph.semble.lexicon` checks single records against the Semble lexicons;
- :mod:`cfgraph.semble.frontmatter` reads citation fields from a note's YAML front matter;
- :mod:`cfgraph.semble.connections` checks connection records and ties them to papers;
- :mod:`cfgraph.semble.join` joins records into shelves (collections, links, cards, notes,
  connections), with the cards collaborators added to OPEN collections;
- :mod:`cfgraph.semble.handles` resolves a handle by DNS TXT, HTTPS well-known or resolveHandle;
- :mod:`cfgraph.semble.xrpc` resolves a DID to a PDS and lists records;
- :mod:`cfgraph.semble.transport` bounds every network read in time and size;
- :mod:`cfgraph.semble.untrusted` quotes server text in one line and parses listings record by record;
- :mod:`cfgraph.semble.service` refreshes or imports in one transaction;
- :mod:`cfgraph.semble.queries` reads the shelves back for the CLI and the web page;
- :mod:`cfgraph.semble.graph` lays out the connections and finds the papers of a glossary term.
"""
