-- Analytics views over delivery projection version {{schema}}.

CREATE VIEW analytics.notifications AS
SELECT n.notification_id, n.user_id, n.template, n.category, n.priority, n.status, n.requested_at, n.status_at,
       (SELECT array_agg(m.channel ORDER BY m.channel) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id AND m.sent_at IS NOT NULL) AS channels,
       (SELECT min(m.sent_at) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id) AS sent_at,
       (SELECT min(m.delivered_at) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id) AS delivered_at,
       (SELECT min(m.opened_at) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id) AS opened_at,
       (SELECT min(m.clicked_at) FROM {{schema}}.messages m WHERE m.notification_id = n.notification_id) AS clicked_at,
       first_send.template_version, first_send.experiment, first_send.variant
FROM {{schema}}.notifications n
LEFT JOIN LATERAL (SELECT s.template_version, s.experiment, s.variant FROM {{schema}}.sends s
                   WHERE s.notification_id = n.notification_id ORDER BY s.sent_at, s.channel LIMIT 1) first_send ON true;
COMMENT ON VIEW analytics.notifications IS 'One row per notification: what was requested, and the furthest status it reached on any channel.';
COMMENT ON COLUMN analytics.notifications.notification_id IS 'Eventline notification id (ntf_...).';
COMMENT ON COLUMN analytics.notifications.user_id IS 'Recipient user id.';
COMMENT ON COLUMN analytics.notifications.template IS 'Template, e.g. payment_failed.';
COMMENT ON COLUMN analytics.notifications.category IS 'security, payment (essential), billing, account, product, marketing, ...';
COMMENT ON COLUMN analytics.notifications.priority IS 'CRITICAL, HIGH, NORMAL or LOW.';
COMMENT ON COLUMN analytics.notifications.status IS 'Furthest status reached, never regressed by a late callback: requested < scheduled < deferred < batched < suppressed < retrying < cancelled < sent < failed < bounced < delivered < opened < clicked.';
COMMENT ON COLUMN analytics.notifications.requested_at IS 'When it was requested.';
COMMENT ON COLUMN analytics.notifications.status_at IS 'When it reached its status.';
COMMENT ON COLUMN analytics.notifications.channels IS 'Channels it was sent on.';
COMMENT ON COLUMN analytics.notifications.sent_at IS 'First send on any channel.';
COMMENT ON COLUMN analytics.notifications.delivered_at IS 'First delivery on any channel.';
COMMENT ON COLUMN analytics.notifications.opened_at IS 'First open.';
COMMENT ON COLUMN analytics.notifications.clicked_at IS 'First click.';
COMMENT ON COLUMN analytics.notifications.template_version IS 'Template version of its first sent message (0: the file shipped with the release; null: not sent, or sent before versions were recorded).';
COMMENT ON COLUMN analytics.notifications.experiment IS 'Experiment of that template version, when it has variants (see template_experiments).';
COMMENT ON COLUMN analytics.notifications.variant IS 'Variant the user was assigned in that experiment: a stable hash of (experiment, user id) over the declared weights.';

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

-- One row per experiment, template and variant. A message counts in the variant recorded on its
-- `sent` outcome. `delivered` counts a message the provider reported delivered, opened or clicked
-- (an open or a click is proof of delivery, and keeps clicked ≤ delivered when the delivered
-- callback is lost). The control of an (experiment, template) is the variant named `control`, else
-- the first by name (bytewise). Each other variant is tested against it with the two-sided
-- two-proportion z-test on clicks per delivered message, with the pooled proportion:
--   p = (c₁ + c₀)/(n₁ + n₀), z = (c₁/n₁ − c₀/n₀) / √(p(1 − p)(1/n₁ + 1/n₀)), p_value = 2Φ(−|z|).
-- A winner needs every variant (at least two) at ≥ 100 delivered: then the variant significantly
-- better than the control (p < 0.05) with the highest click rate, or the control when every other
-- variant is significantly worse; a tie for the highest rate is no winner.
CREATE VIEW analytics.template_experiments AS
WITH counts AS (
  SELECT s.experiment, COALESCE(n.template, 'unknown') AS template, s.variant,
         count(*) AS sent,
         count(*) FILTER (WHERE m.delivered_at IS NOT NULL OR m.opened_at IS NOT NULL OR m.clicked_at IS NOT NULL) AS delivered,
         count(m.opened_at) AS opened,
         count(m.clicked_at) AS clicked
  FROM {{schema}}.sends s
  LEFT JOIN {{schema}}.messages m USING (notification_id, channel)
  LEFT JOIN {{schema}}.notifications n USING (notification_id)
  WHERE s.experiment IS NOT NULL AND s.variant IS NOT NULL
  GROUP BY 1, 2, 3
), arms AS (
  SELECT c.*,
         first_value(c.variant) OVER (PARTITION BY c.experiment, c.template ORDER BY c.variant <> 'control', c.variant COLLATE "C") AS control,
         count(*) OVER (PARTITION BY c.experiment, c.template) AS variants,
         min(c.delivered) OVER (PARTITION BY c.experiment, c.template) AS least_delivered
  FROM counts c
), tested AS (
  SELECT a.*, a.variant = a.control AS is_control, k.delivered AS control_delivered, k.clicked AS control_clicked,
         -- sign(click_rate − control click_rate), compared exactly in integers
         sign((a.clicked * k.delivered - k.clicked * a.delivered)::numeric) AS versus_control,
         CASE WHEN a.variant = a.control OR a.delivered = 0 OR k.delivered = 0 OR a.clicked + k.clicked IN (0, a.delivered + k.delivered) THEN NULL
              ELSE 2 * analytics.normal_cdf(-abs(
                     (a.clicked::double precision / a.delivered - k.clicked::double precision / k.delivered)
                     / sqrt(((a.clicked + k.clicked)::double precision / (a.delivered + k.delivered))
                            * (1 - (a.clicked + k.clicked)::double precision / (a.delivered + k.delivered))
                            * (1::double precision / a.delivered + 1::double precision / k.delivered))))
         END AS p_value
  FROM arms a JOIN arms k ON k.experiment = a.experiment AND k.template = a.template AND k.variant = a.control
), judged AS (
  SELECT t.*,
         t.variants >= 2 AND t.least_delivered >= 100 AS enough,
         NOT t.is_control AND t.p_value < 0.05 AND t.versus_control > 0 AS better,
         -- the other variants of its experiment, significantly worse than the control
         count(*) FILTER (WHERE NOT t.is_control AND t.p_value < 0.05 AND t.versus_control < 0) OVER g AS worse_variants,
         count(*) FILTER (WHERE NOT t.is_control AND t.p_value < 0.05 AND t.versus_control > 0) OVER g AS better_variants
  FROM tested t
  WINDOW g AS (PARTITION BY t.experiment, t.template)
), ranked AS (
  SELECT j.*,
         -- among the significantly better variants: how many have a higher click rate, and how many the same
         count(*) FILTER (WHERE j.better) OVER (PARTITION BY j.experiment, j.template ORDER BY j.clicked::numeric / NULLIF(j.delivered, 0) DESC
                                                 RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS better_at_or_above
  FROM judged j
)
SELECT experiment, template, variant, sent, delivered, opened, clicked,
       round(opened::numeric / NULLIF(delivered, 0), 4) AS open_rate,
       round(clicked::numeric / NULLIF(delivered, 0), 4) AS click_rate,
       CASE WHEN is_control OR delivered = 0 OR control_delivered = 0 OR control_clicked = 0 THEN NULL
            ELSE round((clicked::numeric * control_delivered) / (delivered::numeric * control_clicked) - 1, 4) END AS click_lift_vs_control,
       p_value,
       COALESCE(enough AND CASE WHEN is_control THEN better_variants = 0 AND worse_variants = variants - 1
                                ELSE better AND better_at_or_above = 1 END, false) AS winner
FROM ranked;
COMMENT ON VIEW analytics.template_experiments IS 'Template experiments (a template version with weighted variants; users assigned by a stable hash of experiment and user id): per experiment, template and variant, unique messages sent, delivered, opened and clicked, and each variant''s click rate tested against the control''s (two-sided two-proportion z-test, pooled). A winner is named only with at least 100 delivered messages in every variant; see docs/analytics.md.';
COMMENT ON COLUMN analytics.template_experiments.experiment IS 'Experiment id, as declared on the template version and recorded on each sent outcome.';
COMMENT ON COLUMN analytics.template_experiments.template IS 'Template of the notifications (unknown until the request or an outcome names it). Control and winner are per experiment and template.';
COMMENT ON COLUMN analytics.template_experiments.variant IS 'Variant the users were assigned. The control is the variant named control, else the first by name.';
COMMENT ON COLUMN analytics.template_experiments.sent IS 'Messages sent (one per notification and channel) in this variant.';
COMMENT ON COLUMN analytics.template_experiments.delivered IS 'Of them, reported delivered, opened or clicked (an open or a click proves delivery): the denominator of the rates and of the test.';
COMMENT ON COLUMN analytics.template_experiments.opened IS 'Of them, opened at least once.';
COMMENT ON COLUMN analytics.template_experiments.clicked IS 'Of them, clicked at least once.';
COMMENT ON COLUMN analytics.template_experiments.open_rate IS 'opened / delivered, 4 decimals; null when nothing was delivered.';
COMMENT ON COLUMN analytics.template_experiments.click_rate IS 'clicked / delivered, 4 decimals; null when nothing was delivered.';
COMMENT ON COLUMN analytics.template_experiments.click_lift_vs_control IS 'click_rate / the control''s click_rate − 1 from the exact counts, 4 decimals (0.25: 25 % more clicks per delivered message); null for the control and when the control''s click rate is 0 or undefined.';
COMMENT ON COLUMN analytics.template_experiments.p_value IS 'Two-sided p-value of the two-proportion z-test (pooled proportion) of this variant''s clicks per delivered message against the control''s: 2Φ(−|z|), Φ = analytics.normal_cdf (relative error < 1.2e-7). Null for the control, and when undefined (nothing delivered on a side, or no click or only clicks on both).';
COMMENT ON COLUMN analytics.template_experiments.winner IS 'True on at most one variant of an experiment and template, and only when every variant (at least two) has ≥ 100 delivered: the variant with the highest click rate among those significantly better than the control (p < 0.05), or the control when every other variant is significantly worse. Not corrected for several comparisons.';
