import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpException,
  HttpStatus,
  Inject,
  Param,
  Patch,
  Post,
  Req,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RateLimiter } from '../common/rate-limiter.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import { jsonSchema, parse, uuidParam } from '../common/validation.js';
import { AuthService, CreateApiKey, CreateUser, Login, UpdateUser } from './auth.service.js';
import { HUMANS, Public, Roles } from './roles.js';

export const LOGIN_LIMITER = Symbol('LOGIN_LIMITER');

@ApiTags('auth')
@ApiBearerAuth()
@Controller('api/v1')
export class AuthController {
  constructor(
    @Inject(AuthService) private readonly auth: AuthService,
    @Inject(LOGIN_LIMITER) private readonly loginLimiter: RateLimiter,
  ) {}

  @Post('auth/login')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in with username and password; returns a JWT for Authorization: Bearer' })
  @ApiBody({ schema: jsonSchema(Login) })
  async login(@Body() body: unknown, @Req() req: AppRequest) {
    const wait = this.loginLimiter.take(`login:${req.ip}`);
    if (wait > 0)
      throw new HttpException(`too many sign-in attempts; retry in ${wait} s`, HttpStatus.TOO_MANY_REQUESTS);
    const b = parse(Login, body, 'body');
    return this.auth.login(b.username, b.password, req.ip ?? null);
  }

  @Get('auth/me')
  @Roles(...HUMANS, 'device')
  @ApiOperation({ summary: 'The caller: kind, id, name and role' })
  me(@Req() req: AppRequest) {
    return req.principal;
  }

  @Get('users')
  @Roles('admin')
  @ApiOperation({ summary: 'List users' })
  listUsers() {
    return this.auth.listUsers();
  }

  @Post('users')
  @Roles('admin')
  @ApiOperation({ summary: 'Create a user (admin, engineer or supervisor)' })
  @ApiBody({ schema: jsonSchema(CreateUser) })
  createUser(@Body() body: unknown, @Req() req: AppRequest) {
    return this.auth.createUser(contextOf(req), parse(CreateUser, body, 'body'));
  }

  @Patch('users/:id')
  @Roles('admin')
  @ApiOperation({ summary: 'Change a user: role, password, disabled' })
  @ApiBody({ schema: jsonSchema(UpdateUser) })
  updateUser(@Param('id') id: string, @Body() body: unknown, @Req() req: AppRequest) {
    return this.auth.updateUser(contextOf(req), parse(uuidParam, id, 'id'), parse(UpdateUser, body, 'body'));
  }

  @Get('api-keys')
  @Roles('admin')
  @ApiOperation({ summary: 'List API keys (never the secret)' })
  listKeys() {
    return this.auth.listApiKeys();
  }

  @Post('api-keys')
  @Roles('admin')
  @ApiOperation({ summary: 'Create an API key; the key is returned once' })
  @ApiBody({ schema: jsonSchema(CreateApiKey) })
  createKey(@Body() body: unknown, @Req() req: AppRequest) {
    return this.auth.createApiKey(contextOf(req), parse(CreateApiKey, body, 'body'));
  }

  @Delete('api-keys/:id')
  @Roles('admin')
  @ApiOperation({ summary: 'Revoke an API key' })
  revokeKey(@Param('id') id: string, @Req() req: AppRequest) {
    return this.auth.revokeApiKey(contextOf(req), parse(uuidParam, id, 'id'));
  }
}
