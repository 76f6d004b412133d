-- Template versions published with `eventline templates publish` (each also a TemplatePublished on
-- notify.templates.v1): running dispatchers read them within seconds and render new notifications
-- with the latest; a message keeps the version it was decided with (recorded on its outcome).
CREATE TABLE IF NOT EXISTS dispatch.template_versions (
  template text NOT NULL,
  locale text NOT NULL,
  version integer NOT NULL CHECK (version > 0),
  published jsonb NOT NULL,
  published_at timestamptz NOT NULL,
  PRIMARY KEY (template, locale, version)
);
COMMENT ON TABLE dispatch.template_versions IS 'Published template versions (the TemplatePublished records); version 0 is the file shipped with the release.';
