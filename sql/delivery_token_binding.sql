-- A stored token is bound to the endpoint origin and platform it was stored
-- for: an administrator who moves the endpoint to another host (or changes
-- the platform) drops the destination's tokens, so the worker can never
-- send them there; a new path on the same host keeps them.
SET timezone = 'UTC';

INSERT INTO attribution.destinations (name, platform, endpoint, account)
VALUES ('tb_meta', 'meta', 'https://graph.facebook.com', '{"pixel_id": "11"}'),
       ('tb_hook', 'webhook', 'https://hooks.example.com/in', '{}');

SET ROLE attribution_admin;
SELECT attribution.set_credential('tb_meta', 'EAAB-binding-token-1') > 0 AS stored;
SELECT attribution.set_credential('tb_hook', 'hook-binding-token-1') > 0 AS stored;
SELECT attribution.set_credential('tb_hook', 'hook-binding-refresh', NULL, 'refresh_token') > 0 AS stored;

-- another path on the same origin keeps the token
UPDATE attribution.destinations SET endpoint = 'https://hooks.example.com/v2/in' WHERE name = 'tb_hook';
-- so does a change of case in the host
UPDATE attribution.destinations SET endpoint = 'https://HOOKS.example.com/v2/in' WHERE name = 'tb_hook';
SELECT destination, kind, status FROM attribution.credential_status
 WHERE destination LIKE 'tb\_%' ORDER BY 1, 2;

-- another host drops every token of the destination, with a notice
UPDATE attribution.destinations SET endpoint = 'https://attacker.example.net/in' WHERE name = 'tb_hook';
SELECT destination, kind, status FROM attribution.credential_status
 WHERE destination LIKE 'tb\_%' ORDER BY 1, 2;
SELECT credential_id IS NULL AS no_token FROM attribution.destinations WHERE name = 'tb_hook';

-- so do another port, a user part and another scheme
SELECT attribution.set_credential('tb_hook', 'hook-binding-token-2') > 0 AS stored;
UPDATE attribution.destinations SET endpoint = 'https://attacker.example.net:8443/in' WHERE name = 'tb_hook';
SELECT attribution.set_credential('tb_hook', 'hook-binding-token-3') > 0 AS stored;
UPDATE attribution.destinations SET endpoint = 'https://x@attacker.example.net:8443/in' WHERE name = 'tb_hook';
SELECT attribution.set_credential('tb_hook', 'hook-binding-token-4') > 0 AS stored;
UPDATE attribution.destinations SET endpoint = 'http://x@attacker.example.net:8443/in' WHERE name = 'tb_hook';
SELECT count(*) AS tokens_left FROM attribution.credential_status WHERE destination = 'tb_hook';

-- a change of platform drops the token too
UPDATE attribution.destinations SET platform = 'webhook', transport = 'https', account = '{}'
 WHERE name = 'tb_meta';
SELECT count(*) AS tokens_left FROM attribution.credential_status WHERE destination = 'tb_meta';

-- the worker's own query finds no ciphertext for either destination
RESET ROLE;
SELECT d.name, count(c.id) AS ciphertexts
  FROM attribution.destinations d LEFT JOIN attribution.credentials c ON c.destination_id = d.id
 WHERE d.name LIKE 'tb\_%' GROUP BY d.name ORDER BY 1;

-- origins as compared
SELECT u, attribution._endpoint_origin(u)
  FROM (VALUES ('https://Graph.Facebook.com/v25.0/1/events'), ('https://a.example:443'),
               ('https://a.example?x=1'), ('https://u:p@a.example/x')) t(u);

DELETE FROM attribution.destinations WHERE name LIKE 'tb\_%';
