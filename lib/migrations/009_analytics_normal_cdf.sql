-- The standard normal CDF, for the p-values of analytics.template_experiments and for analysts'
-- own tests. PostgreSQL has erf()/erfc() only from version 16; this works on 15 too (the
-- reference machine of docs/performance.md).
--
-- Φ(z) = erfc(−z/√2) / 2, with erfc from the Chebyshev fit of Numerical Recipes (2nd ed., §6.2,
-- `erfcc`): for x ≥ 0, with t = 1 / (1 + x/2),
--   erfc(x) ≈ t·exp(−x² − 1.26551223 + t(1.00002368 + t(0.37409196 + t(0.09678418 + t(−0.18628806
--             + t(0.27886807 + t(−1.13520398 + t(1.48851587 + t(−0.82215223 + 0.17087277t)))))))))
-- and erfc(−x) = 2 − erfc(x). Its relative error is below 1.2e-7 everywhere, so the lower tail
-- Φ(−|z|) (a two-sided p-value is 2Φ(−|z|)) is accurate to 1.2e-7 of itself however small, and
-- Φ(z) to 6e-8 absolute. (Abramowitz–Stegun 7.1.26 is accurate to 1.5e-7 absolute only, useless for
-- small p-values.) Beyond |z| > 37 the tail is below 1e-298 and is returned as 0 (exp would
-- underflow).
CREATE OR REPLACE FUNCTION analytics.normal_cdf(z double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN z < -37 THEN 0::double precision
    WHEN z > 37 THEN 1::double precision
    WHEN z <= 0 THEN tail
    ELSE 1 - tail
  END
  FROM (SELECT 0.5 * t * exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
                 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))) AS tail
        FROM (SELECT x, 1 / (1 + 0.5 * x) AS t FROM (SELECT least(abs(z), 37) / sqrt(2::double precision) AS x) a) b) c
$$;
COMMENT ON FUNCTION analytics.normal_cdf(double precision) IS 'Standard normal CDF Φ(z) = P(Z ≤ z): erfc(−z/√2)/2 by the Numerical Recipes Chebyshev fit, relative error of the tail below 1.2e-7 (absolute below 6e-8). A two-sided p-value is 2 * analytics.normal_cdf(-abs(z)).';
-- Functions are executable by PUBLIC unless revoked; said here so the analyst role keeps it if that changes.
GRANT EXECUTE ON FUNCTION analytics.normal_cdf(double precision) TO eventline_analyst;
