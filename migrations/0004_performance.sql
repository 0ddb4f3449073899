-- Performance (issue 6): every index on deliveries is written at least three times per
-- delivery (insert, claim, outcome). deliveries_due (all pending deliveries by due time)
-- served no query: the dispatcher claims per endpoint through deliveries_endpoint_due and
-- deliveries_endpoint_first_due, and start-up releases leases through deliveries_leased.
DROP INDEX deliveries_due;
