-- Which users each number received SMS for: a STOP or START reply from a number changes the
-- consent of the users it was texted for (and of those whose preferences give that number).
CREATE TABLE IF NOT EXISTS dispatch.sms_recipients (
  phone text NOT NULL,
  user_id text NOT NULL,
  last_sent_at timestamptz NOT NULL,
  PRIMARY KEY (phone, user_id)
);
COMMENT ON TABLE dispatch.sms_recipients IS 'Numbers Eventline texted, per user: who a keyword reply (STOP, START) from a number is about.';
