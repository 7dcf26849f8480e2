import { z } from 'zod';
import { zodDto } from '../common/dto.js';
import { isoTime } from '../common/schemas.js';
import { CreateApiKey, CreateUser, HumanRole, Login, UpdateUser } from './auth.service.js';

export class LoginDto extends zodDto(Login) {}
export class CreateUserDto extends zodDto(CreateUser) {}
export class UpdateUserDto extends zodDto(UpdateUser) {}
export class CreateApiKeyDto extends zodDto(CreateApiKey) {}

export class LoginReplyDto extends zodDto(
  z.object({ token: z.string(), expiresAt: isoTime, role: HumanRole }),
) {}
export class PrincipalDto extends zodDto(
  z.object({
    kind: z.enum(['user', 'apikey', 'device', 'system']),
    id: z.string(),
    name: z.string(),
    role: z.enum(['admin', 'engineer', 'supervisor', 'device', 'system']),
    /** Devices only: the device's own id. */
    deviceId: z.string().optional(),
  }),
) {}

const User = z.object({
  id: z.string(),
  username: z.string(),
  role: HumanRole,
  disabled: z.boolean(),
  createdAt: isoTime,
});
export class UserDto extends zodDto(User) {}

const ApiKey = z.object({
  id: z.string(),
  name: z.string(),
  /** The first characters of the key, to recognise it; the key itself is shown once, at creation. */
  prefix: z.string(),
  role: HumanRole,
  createdAt: isoTime,
  revokedAt: isoTime.nullable(),
  lastUsedAt: isoTime.nullable(),
});
export class ApiKeyDto extends zodDto(ApiKey) {}
export class CreatedApiKeyDto extends zodDto(ApiKey.extend({ key: z.string() })) {}
