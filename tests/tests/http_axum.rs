//! The HTTP conformance suite against `testproject-axum`.
maintenance_tests::http_conformance_tests!(maintenance_tests::http::Server::Axum);
