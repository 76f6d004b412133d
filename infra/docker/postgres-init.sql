-- Databases Eventline expects next to its own (docker-compose.kafka.yml).
CREATE DATABASE eventline_registry;
