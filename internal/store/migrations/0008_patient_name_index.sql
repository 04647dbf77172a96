-- record_resources_name was partial on resource_type = 'Patient'. On SQLite
-- a prepared statement comparing resource_type with a parameter (a FHIR
-- read, a search by patient, an ingest's lookup) was then recompiled every
-- time it ran, because the planner checks the parameter against the
-- index's condition. The same rows are those with a family name (a Patient
-- must have one, and nothing else has one), so the index is partial on
-- that instead; name searches say family <> '' to use it.
DROP INDEX record_resources_name;
CREATE INDEX record_resources_name ON record_resources (family, birth_date) WHERE family <> '';
