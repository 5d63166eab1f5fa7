//! The HTTP conformance suite against `testproject-actix`.
maintenance_tests::http_conformance_tests!(maintenance_tests::http::Server::Actix);
