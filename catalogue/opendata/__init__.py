"""Open data: what the catalogue publishes for machines.

* `published`: the published profiles, listed from the search index (the
  read model, with the public label) and read by `_id`, for the bulk exports;
  the export's freshness (ETag, Last-Modified) from the index.
* `dcat`: the DCAT-AP.de 3.0 description of the catalogue and the ADMS
  description of each published profile (rdflib graphs).
* `feeds`: Atom feeds (new and updated profiles; any search) and the sitemap.

The formats of the exported records themselves are `importers.export`'s
(catalogue imports neither api nor importers: api/open_data.py joins them).
"""
