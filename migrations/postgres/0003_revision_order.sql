-- Revisions come from a sequence, and sequences do not wait for commits: a transaction can
-- take revision 10, another take 11 and commit first, and a scan that saw 11 would then
-- never look at 10. So each endpoint row also keeps the transaction that raised its
-- revision, and a scan asks for every row written by a transaction that was still
-- running, or not yet started, when the last scan read the data (the oldest one still
-- running: pg_snapshot_xmin). A row read twice is applied twice, which changes nothing.
ALTER TABLE endpoints ADD COLUMN revision_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX endpoints_revision_xid ON endpoints (revision_xid);

-- After endpoints_revision_update (triggers fire in the order of their names; the WHEN of
-- a BEFORE trigger sees what the earlier ones set), and for the statements that raise a
-- revision themselves. An update of the health columns alone calls nothing.
CREATE FUNCTION endpoints_stamp_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision_xid := pg_current_xact_id();
    RETURN NEW;
END $$;
CREATE TRIGGER endpoints_revision_xid
    BEFORE UPDATE ON endpoints
    FOR EACH ROW WHEN (NEW.revision IS DISTINCT FROM OLD.revision) EXECUTE FUNCTION endpoints_stamp_revision();

-- A tenant deleted on one instance: the others forget the routes they cached for it, as
-- they do after an endpoint's deletion.
CREATE TRIGGER tenants_deletion
    AFTER DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION endpoints_count_deletion();
