"""The records API's documents that are not one schema's dump: a record's lineage, the
records a POST of an array created, and a page of record groups."""

from integration_hub.api.common import hal_page, href
from integration_hub.api.records.schemas import record_links
from integration_hub.records import groups as record_groups
from integration_hub.records import where as record_where


def lineage_document(integration_id: str, lineage) -> dict:
    """The HAL document of a record's lineage (records/lineage.py's ``Lineage``): each side
    a list of records and, in ``_links``, a link to each (a record's own links lead on to
    its lineage)."""
    own = record_links(integration_id, lineage.record.model, lineage.record.id)

    def link(item) -> dict:  # the record's own href only (not its lineage's too)
        return {"href": href("records.Record", integration_id=integration_id,
                             model=item.end.model, record_id=item.end.id),
                "name": f"{item.end.model}/{item.end.id}"}

    def listed(item) -> dict:
        return {"model": item.end.model, "id": item.end.id, "stored": item.stored}

    return {"links": {"self": own["inf:lineage"], "inf:record": own["self"],
                      "inf:integration": {"href": href("integrations.Integration",
                                                       integration_id=integration_id)},
                      "inf:upstream": [link(item) for item in lineage.upstream],
                      "inf:downstream": [link(item) for item in lineage.downstream]},
            "model": lineage.record.model, "record_id": lineage.record.id,
            "upstream": [listed(item) for item in lineage.upstream],
            "downstream": [listed(item) for item in lineage.downstream],
            "truncated": lineage.truncated}


def batch_document(integration_id: str, model: str, records: list) -> dict:
    """The answer to a POST of an array: the records created, in the order sent."""
    return {"_links": {"inf:records": {"href": href("records.Records",
                                                    integration_id=integration_id,
                                                    model=model)}},
            "count": len(records), "_embedded": {"inf:record": records}}


def groups_document(integration_id: str, query: dict, groups) -> dict:
    """A page of record groups (records/groups.py's ``Groups``) as ``query`` asked for it:
    each group links to its records, the request's own ``where`` kept. A group whose filter
    the records page would refuse (``filter_for`` answers None: a long value, a ``where``
    at the parser's limits) links to the records of every group: the request's ``where``
    alone."""
    model, column, where = query["model"], query["column"], query.get("where")
    parsed = record_where.parse_where(where)  # once for the page, not once per group

    def listed(group) -> dict:
        # None: the records page would refuse the group's filter (records/groups.py); the
        # link then lists the records every group was counted in, never a 422.
        chosen = record_groups.filter_for(column, group.value, parsed) or where or None
        filtered = {} if chosen is None else {"where": chosen}
        return {"value": group.value, "count": group.count, "links": {"self": {
            "href": href("records.Records", integration_id=integration_id, model=model,
                         **filtered)}}}

    shown = groups.groups[query["start"]:][:query["limit"]]
    page = hal_page("records.RecordGroups", "inf:record-group", [listed(g) for g in shown],
                    query["start"], query["limit"], len(groups.groups),
                    integration_id=integration_id)
    page["_links"]["inf:records"] = {"href": href("records.Records",
                                                  integration_id=integration_id, model=model)}
    return {**page, "ungrouped": groups.ungrouped, "truncated": groups.truncated}
