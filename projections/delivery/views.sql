-- Analytics views over delivery projection version {{schema}}.

CREATE VIEW analytics.notifications AS
SELECT n.notification_id, n.user_id, n.template, n.category, n.priority, n.status, n.requested_at, n.status_at,
       (SELECT array_agg(m.channel ORDER BY m.channel) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id AND m.sent_at IS NOT NULL) AS channels,
       (SELECT min(m.sent_at) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id) AS sent_at,
       (SELECT min(m.delivered_at) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id) AS delivered_at,
       (SELECT min(m.opened_at) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id) AS opened_at,
       (SELECT min(m.clicked_at) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id) AS clicked_at
FROM {{schema}}.notifications n;
COMMENT ON VIEW analytics.notifications IS 'One row per notification: what was requested, and the furthest status it reached on any channel.';
COMMENT ON COLUMN analytics.notifications.notification_id IS 'Eventline notification id (ntf_...).';
COMMENT ON COLUMN analytics.notifications.user_id IS 'Recipient user id.';
COMMENT ON COLUMN analytics.notifications.template IS 'Template, e.g. payment_failed.';
COMMENT ON COLUMN analytics.notifications.category IS 'security, payment (essential), billing, account, product, marketing, ...';
COMMENT ON COLUMN analytics.notifications.priority IS 'CRITICAL, HIGH, NORMAL or LOW.';
COMMENT ON COLUMN analytics.notifications.status IS 'Furthest status reached, never regressed by a late callback: requested < deferred < batched < suppressed < retrying < sent < failed < bounced < delivered < opened < clicked.';
COMMENT ON COLUMN analytics.notifications.requested_at IS 'When it was requested.';
COMMENT ON COLUMN analytics.notifications.status_at IS 'When it reached its status.';
COMMENT ON COLUMN analytics.notifications.channels IS 'Channels it was sent on.';
COMMENT ON COLUMN analytics.notifications.sent_at IS 'First send on any channel.';
COMMENT ON COLUMN analytics.notifications.delivered_at IS 'First delivery on any channel.';
COMMENT ON COLUMN analytics.notifications.opened_at IS 'First open.';
COMMENT ON COLUMN analytics.notifications.clicked_at IS 'First click.';

CREATE VIEW analytics.delivery_metrics_daily AS
SELECT day, channel, category, template,
       sent::bigint AS sent,
       delivered::bigint AS delivered,
       opened::bigint AS opened,
       clicked::bigint AS clicked,
       bounced::bigint AS bounced,
       failed::bigint AS failed,
       unsubscribed::bigint AS unsubscribed,
       round(delivered::numeric / NULLIF(sent, 0), 4) AS delivery_rate,
       round(opened::numeric / NULLIF(delivered, 0), 4) AS open_rate,
       round(clicked::numeric / NULLIF(delivered, 0), 4) AS click_rate,
       round(bounced::numeric / NULLIF(sent, 0), 4) AS bounce_rate
FROM {{schema}}.daily_metrics
WHERE messages > 0;
COMMENT ON VIEW analytics.delivery_metrics_daily IS 'Unique messages (one per notification and channel; three opens count once) by the UTC day they were sent (or failed to send), channel, category and template.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.day IS 'UTC day the message was sent (for messages that never went out: the day sending failed).';
COMMENT ON COLUMN analytics.delivery_metrics_daily.channel IS 'email or sms.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.category IS 'Notification category.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.template IS 'Notification template.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.sent IS 'Messages handed to the provider (or the local outbox).';
COMMENT ON COLUMN analytics.delivery_metrics_daily.delivered IS 'Messages the provider reported delivered.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.opened IS 'Messages opened at least once (email; SMS read receipts where available).';
COMMENT ON COLUMN analytics.delivery_metrics_daily.clicked IS 'Messages with at least one click.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.bounced IS 'Messages that bounced (email).';
COMMENT ON COLUMN analytics.delivery_metrics_daily.failed IS 'Messages that failed: send failed, dropped by the provider, SMS failed or undelivered.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.unsubscribed IS 'Messages whose recipient unsubscribed or reported spam from them.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.delivery_rate IS 'delivered / sent (null when nothing was sent).';
COMMENT ON COLUMN analytics.delivery_metrics_daily.open_rate IS 'opened / delivered.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.click_rate IS 'clicked / delivered.';
COMMENT ON COLUMN analytics.delivery_metrics_daily.bounce_rate IS 'bounced / sent.';

CREATE VIEW analytics.messaging_costs AS
SELECT (sent_at AT TIME ZONE 'UTC')::date AS day, channel, COALESCE(provider, 'unknown') AS provider, COALESCE(country, 'unknown') AS country,
       price_currency AS currency,
       count(*) AS messages,
       count(price_micros) AS priced_messages,
       sum(price_micros) AS cost_micros
FROM {{schema}}.sends
GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW analytics.messaging_costs IS 'What sent messages cost, by UTC day sent, channel, provider and destination country: the sum of the prices recorded on each message''s dispatch outcome (the price table in force when it was sent, per segment times its segments).';
COMMENT ON COLUMN analytics.messaging_costs.day IS 'UTC day the messages were sent.';
COMMENT ON COLUMN analytics.messaging_costs.channel IS 'email or sms.';
COMMENT ON COLUMN analytics.messaging_costs.provider IS 'Who sent them: twilio, vonage, sendgrid, smtp, outbox.';
COMMENT ON COLUMN analytics.messaging_costs.country IS 'ISO 3166 country of the SMS destination number; unknown when it cannot be told (and for email).';
COMMENT ON COLUMN analytics.messaging_costs.messages IS 'Messages sent.';
COMMENT ON COLUMN analytics.messaging_costs.currency IS 'Currency of cost_micros (the price table''s); null for messages sent without a price (email, a single SMS provider, an unpriced destination).';
COMMENT ON COLUMN analytics.messaging_costs.cost_micros IS 'Millionths of the currency: divide by 1,000,000 (an SMS at 0.0083 usd is 8300).';
COMMENT ON COLUMN analytics.messaging_costs.priced_messages IS 'Messages among them with a recorded price.';

CREATE VIEW analytics.provider_health AS
SELECT (s.sent_at AT TIME ZONE 'UTC')::date AS day, s.channel, COALESCE(s.provider, 'unknown') AS provider, COALESCE(s.country, 'unknown') AS country,
       count(*) AS sent,
       count(m.delivered_at) AS delivered,
       count(*) FILTER (WHERE m.delivered_at IS NULL AND (m.failed_at IS NOT NULL OR m.bounced_at IS NOT NULL)) AS failed,
       round(count(m.delivered_at)::numeric / NULLIF(count(m.delivered_at) + count(*) FILTER (WHERE m.delivered_at IS NULL AND (m.failed_at IS NOT NULL OR m.bounced_at IS NOT NULL)), 0), 4) AS success_rate,
       count(*) FILTER (WHERE s.route_reason = 'failover') AS failovers,
       count(*) FILTER (WHERE s.route_reason = 'probe') AS probes
FROM {{schema}}.sends s LEFT JOIN {{schema}}.messages m USING (notification_id, channel)
GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW analytics.provider_health IS 'How each provider delivered what it sent, by UTC day sent, channel and destination country: delivered against failed or bounced (messages still without a final outcome count in neither), and how many it took over from another provider (failovers) or sent as the probe of a recovering circuit. Circuit state changes themselves are on notify.provider-health.v1; `eventline providers status` shows the live circuits.';
COMMENT ON COLUMN analytics.provider_health.day IS 'UTC day the messages were sent.';
COMMENT ON COLUMN analytics.provider_health.channel IS 'email or sms.';
COMMENT ON COLUMN analytics.provider_health.provider IS 'Who sent them.';
COMMENT ON COLUMN analytics.provider_health.country IS 'ISO 3166 country of the SMS destination number; unknown when it cannot be told (and for email).';
COMMENT ON COLUMN analytics.provider_health.sent IS 'Messages the provider took.';
COMMENT ON COLUMN analytics.provider_health.delivered IS 'Of them, reported delivered.';
COMMENT ON COLUMN analytics.provider_health.failed IS 'Of them, reported failed, undelivered or bounced and never delivered.';
COMMENT ON COLUMN analytics.provider_health.failovers IS 'Messages it took because the provider before it in the route failed or had its circuit open.';
COMMENT ON COLUMN analytics.provider_health.probes IS 'Messages sent as the half-open probe of its own circuit.';
COMMENT ON COLUMN analytics.provider_health.success_rate IS 'delivered / (delivered + failed); null while none has a final outcome.';
