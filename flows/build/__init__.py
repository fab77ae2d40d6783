"""The warehouse build: dbt through its runner, the Great Expectations gates, and publishing the
marts as Parquet."""
